package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var staticRoot embed.FS

// staticFiles serves the embedded assets and the generated theme stylesheet, read once at start.
// Each file is addressed with ?v=<content hash>, so a matching request is cached for a year and a
// new build changes every URL it affects.
type staticFiles struct {
	bodies   map[string][]byte
	hashes   map[string]string
	modified time.Time
}

// themeName is the generated stylesheet carrying Config.AccentColor.
const themeName = "theme.css"

func newStaticFiles(accent string) (*staticFiles, error) {
	sub, err := fs.Sub(staticRoot, "static")
	if err != nil {
		return nil, err
	}
	s := &staticFiles{bodies: make(map[string][]byte), hashes: make(map[string]string),
		modified: time.Now().UTC().Truncate(time.Second)}
	err = fs.WalkDir(sub, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		s.bodies[p], s.hashes[p] = b, shortHash(b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The accent is validated by New (hex or a colour name), so it cannot close the rule.
	theme := []byte(":root {\n  --accent: " + accent + ";\n}\n")
	s.bodies[themeName], s.hashes[themeName] = theme, shortHash(theme)
	return s, nil
}

func shortHash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// version returns the content hash of a static file, "" when there is none.
func (s *staticFiles) version(name string) string { return s.hashes[name] }

func (d *Dashboard) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("path")
	hash, ok := d.static.hashes[name]
	if !ok || strings.Contains(name, "..") {
		d.writeError(w, r, errNotFound)
		return
	}
	body := d.static.bodies[name]
	h := w.Header()
	ctype := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js":
		ctype = "text/javascript; charset=utf-8"
	case ".svg":
		ctype = "image/svg+xml"
	case "":
		ctype = "text/plain; charset=utf-8"
	}
	if ctype != "" {
		h.Set("Content-Type", ctype)
	}
	h.Set("X-Content-Type-Options", "nosniff")
	if r.URL.Query().Get("v") == hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("ETag", `"`+hash+`"`)
	http.ServeContent(w, r, name, d.static.modified, bytes.NewReader(body))
}

// serveFavicon answers browsers that ask for /favicon.ico regardless of the page's <link>.
func (d *Dashboard) serveFavicon(w http.ResponseWriter, r *http.Request) {
	r2 := r.Clone(r.Context())
	r2.SetPathValue("path", "favicon.svg")
	d.serveStatic(w, r2)
}
