package admin

import "net/http"

// builtinPage stands in for the dashboard when Config.Handler is nil, so that the admin, its
// gate and asyncmq serve work without one.
const builtinPage = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Dashboard</title></head>
<body><h1>Dashboard</h1><p>asyncmq admin is running; no dashboard handler is configured.</p></body>
</html>
`

func builtinDashboard(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeText(w, http.StatusMethodNotAllowed, "Method not allowed")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(builtinPage))
}
