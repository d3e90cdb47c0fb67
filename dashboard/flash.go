package dashboard

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/asyncmq/asyncmq/admin"
)

// flash is a one-time message shown on the page a browser lands on after an action.
type flash struct {
	// Level is "success", "info", "warning" or "error".
	Level string
	Text  string
}

const (
	flashSessionKey = "asyncmq.dashboard.flash"
	flashCookie     = "asyncmq_flash"
	maxFlashText    = 500
)

// setFlash keeps f for the next page the browser loads: in the admin session when sessions are
// on, else in a short-lived cookie signed with a per-process key (a replica that cannot verify it
// simply shows no message).
func (d *Dashboard) setFlash(w http.ResponseWriter, r *http.Request, f flash) {
	f.Text = truncate(maxFlashText, f.Text)
	value := f.Level + "\n" + f.Text
	if s := admin.SessionFromRequest(r); s != nil {
		s.PutString(flashSessionKey, value)
		return
	}
	payload := base64.RawURLEncoding.EncodeToString([]byte(value))
	http.SetCookie(w, &http.Cookie{
		Name:     flashCookie,
		Value:    payload + "." + d.flashMAC(payload),
		Path:     cookiePath(r),
		MaxAge:   60,
		HttpOnly: true,
		Secure:   admin.RequestIsTLS(r),
		SameSite: http.SameSiteLaxMode,
	})
}

// popFlash returns and forgets the pending message, or nil.
func (d *Dashboard) popFlash(w http.ResponseWriter, r *http.Request) *flash {
	var value string
	if s := admin.SessionFromRequest(r); s != nil {
		value = s.PopString(flashSessionKey)
	} else if c, err := r.Cookie(flashCookie); err == nil {
		http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: cookiePath(r), MaxAge: -1,
			HttpOnly: true, Secure: admin.RequestIsTLS(r), SameSite: http.SameSiteLaxMode})
		payload, mac, ok := strings.Cut(c.Value, ".")
		if !ok || !hmac.Equal([]byte(mac), []byte(d.flashMAC(payload))) {
			return nil
		}
		b, err := base64.RawURLEncoding.DecodeString(payload)
		if err != nil {
			return nil
		}
		value = string(b)
	}
	level, text, ok := strings.Cut(value, "\n")
	if !ok || text == "" {
		return nil
	}
	switch level {
	case "success", "info", "warning", "error":
	default:
		level = "info"
	}
	return &flash{Level: level, Text: text}
}

func (d *Dashboard) flashMAC(payload string) string {
	m := hmac.New(sha256.New, d.flashKey)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

func cookiePath(r *http.Request) string {
	return admin.BasePath(r) + "/"
}

// renderFlash answers an htmx action with the flash fragment alone; the page's script reloads
// its live regions when it sees the asyncmq:changed trigger.
func (d *Dashboard) renderFlash(w http.ResponseWriter, status int, f *flash) error {
	var buf htmlWriter
	writeFlash(&buf, f)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if status < 300 {
		h.Set("HX-Trigger", "asyncmq:changed")
	}
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}
