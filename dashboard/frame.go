package dashboard

// The frame of every page (head, sidebar, topbar, flash region) is written here rather than by
// a template: every page view pays for it, and in html/template each of its dozen values costs
// reflective calls to escapers, which made the frame a sixth of the jobs page's CPU. Values are
// escaped as html/template escapes them in the same places (see htmlWriter).

// frameHead is the start of every page up to its title.
const frameHead = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"selfRequestsOnly":true,"historyEnabled":false,"responseHandling":[{"code":"204","swap":false},{"code":"[23]..","swap":true},{"code":"4..","swap":true,"error":true},{"code":"...","swap":false,"error":true}]}'>
<title>`

// frameTopbar sits between the page title and the signed-in user.
const frameTopbar = `<div class="topbar-right">
<button type="button" class="button button-quiet theme-toggle" data-theme-toggle data-testid="theme-toggle" aria-pressed="false" title="Switch between light and dark">Dark</button>
<span id="live-status" class="live-status" data-state="connecting" role="status" aria-live="polite">Connecting…</span>
`

// frameEnd closes what writeFrameStart opened.
const frameEnd = `
</main>
</div>
</div>
</body>
</html>
`

// writeFrameStart writes p's frame up to its content: the head with its assets, the body's
// data attributes that app.js reads, the sidebar, the topbar with the signed-in user, and the
// flash region. p.Chrome must be set.
func writeFrameStart(w *htmlWriter, p *page) {
	w.raw(frameHead).esc(p.SiteTitle).raw(" | ").esc(p.Title).raw("</title>\n", string(p.Chrome.Head), "\n</head>\n")
	w.raw(`<body data-base="`).esc(p.Base).raw(`" data-events-url="`).url(p.EventsURL()).
		raw(`" data-page="`).esc(p.Nav).raw(`" data-role="`).esc(p.Role.String()).raw(`">`, "\n")
	w.raw(`<a class="skip-link" href="#main">Skip to content</a>`, "\n", `<div class="shell">`, "\n",
		string(p.Chrome.Sidebar(p.Nav)), "\n", `<div class="main-column">`, "\n", `<header class="topbar">`, "\n")
	w.raw(`<h1 id="page-title">`).esc(p.Title).raw("</h1>\n", frameTopbar)
	if u := p.User; u != nil {
		w.raw(`<span class="user" data-testid="current-user">`).esc(u.DisplayName()).
			raw(` <span class="role">`).esc(p.Role.String()).raw("</span></span>\n")
		w.raw(`<form method="post" action="`).url(p.Chrome.Logout).
			raw(`" class="inline" data-logout><button type="submit" class="button button-quiet" data-testid="logout">Log out</button></form>`)
	}
	w.raw("\n</div>\n</header>\n", `<div id="flash" class="flash-region" aria-live="polite">`)
	if p.Flash != nil {
		writeFlash(w, p.Flash)
	}
	w.raw("</div>\n", `<main id="main" tabindex="-1">`, "\n")
}

// writeFrameEnd closes the frame writeFrameStart opened.
func writeFrameEnd(w *htmlWriter) { w.raw(frameEnd) }

// writeFlash writes one flash message: an alert for errors, a status otherwise.
func writeFlash(w *htmlWriter, f *flash) {
	role := "status"
	if f.Level == "error" {
		role = "alert"
	}
	w.raw(`<div class="flash flash-`).esc(f.Level).raw(`" role="`, role, `" data-testid="flash">`).esc(f.Text).raw(`</div>`)
}
