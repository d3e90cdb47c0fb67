package admin

import (
	"net/http"
	"strconv"
	"strings"
)

// cors answers cross-origin requests from configured origins. Without it (the default) the
// admin sends no Access-Control-* header at all, so browsers keep other origins out.
type cors struct {
	origins     map[string]bool
	anyOrigin   bool
	methods     string
	headers     string
	credentials bool
	maxAge      string
}

func newCORS(c CORSConfig) (*cors, error) {
	if len(c.AllowOrigins) == 0 {
		return nil, configError("Config.CORS.AllowOrigins is required when Config.IncludeCORS is true")
	}
	cs := &cors{origins: map[string]bool{}, credentials: c.AllowCredentials}
	for _, o := range c.AllowOrigins {
		if strings.TrimSpace(o) == "*" {
			cs.anyOrigin = true
			continue
		}
		n, ok := parseOrigin(o)
		if !ok {
			return nil, configError("Config.CORS.AllowOrigins entry %q must be an origin like \"https://ops.example\" or \"*\"", o)
		}
		cs.origins[n] = true
	}
	if cs.anyOrigin && c.AllowCredentials {
		return nil, configError(`Config.CORS.AllowCredentials cannot be combined with the wildcard origin "*" in Config.CORS.AllowOrigins: list the origins that may send credentials`)
	}
	methods, headers := c.AllowMethods, c.AllowHeaders
	if len(methods) == 0 {
		methods = defaultCORSMethods
	}
	if len(headers) == 0 {
		headers = defaultCORSHeaders
	}
	for _, m := range methods {
		if !isToken(m) {
			return nil, configError("Config.CORS.AllowMethods entry %q is not an HTTP method", m)
		}
	}
	for _, h := range headers {
		if !isToken(h) {
			return nil, configError("Config.CORS.AllowHeaders entry %q is not a header name", h)
		}
	}
	cs.methods = strings.Join(methods, ", ")
	cs.headers = strings.Join(headers, ", ")
	maxAge := c.MaxAge
	if maxAge == 0 {
		maxAge = defaultCORSMaxAge
	}
	if maxAge < 0 {
		return nil, configError("Config.CORS.MaxAge must not be negative")
	}
	cs.maxAge = strconv.Itoa(int(maxAge.Seconds()))
	return cs, nil
}

// handle adds CORS headers for an allowed origin and answers its preflight requests. It
// reports whether it answered the request.
func (c *cors) handle(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	if !c.anyOrigin && !c.origins[origin] {
		return false
	}
	if c.anyOrigin && !c.credentials {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
	}
	if c.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	h.Set("Access-Control-Allow-Methods", c.methods)
	h.Set("Access-Control-Allow-Headers", c.headers)
	h.Set("Access-Control-Max-Age", c.maxAge)
	w.WriteHeader(http.StatusNoContent)
	return true
}

// isToken reports whether s is an RFC 9110 token, the syntax of methods and header names.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isUnreserved(c) && !strings.ContainsRune("!#$%&'*+^`|", rune(c)) {
			return false
		}
	}
	return true
}
