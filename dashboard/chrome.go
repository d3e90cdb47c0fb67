package dashboard

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
)

// chrome is the part of every page's frame that depends only on the mount path: the head's
// asset links and the sidebar. It is rendered once per mount path and shared by every request,
// so a page view renders only what is its own.
type chrome struct {
	Head template.HTML
	// Logout is where the topbar's sign-out form posts.
	Logout   string
	sidebars map[string]template.HTML
}

// Sidebar returns the sidebar with the section nav marked as the current page.
func (c *chrome) Sidebar(nav string) template.HTML { return c.sidebars[nav] }

type chromeHead struct {
	Favicon, UplotCSS, AppCSS, ThemeCSS, HtmxJS, UplotJS, AppJS, ThemeJS string
}

type sidebarData struct {
	Home  string
	Brand string
	Items []navItem
}

type navItem struct {
	URL     string
	Label   string
	Current bool
}

// sections are the sidebar's entries: the page.Nav value that marks each current, its label
// and its path.
var sections = []struct {
	nav, label string
	path       []string
}{
	{"overview", "Overview", nil},
	{"queues", "Queues", []string{"queues"}},
	{"workers", "Workers", []string{"workers"}},
	{"metrics", "Metrics", []string{"metrics"}},
	{"events", "Events", []string{"events", "history"}},
	{"audit", "Audit log", []string{"audit"}},
}

// maxChromes bounds the mount paths whose chrome is kept. A dashboard is normally reached at
// one or two; past the bound the chrome is rendered per request instead of remembered.
const maxChromes = 16

// maxSnapshotBodies bounds the rendered bodies a shared snapshot keeps (the overview's, one per
// mount path; the event history's, one per mount path and limit); past it a body is rendered
// per request.
const maxSnapshotBodies = 16

// chrome returns the frame for the mount path base.
func (d *Dashboard) chrome(base string) (*chrome, error) {
	if c, ok := d.chromes.Load(base); ok {
		return c.(*chrome), nil
	}
	c, err := d.buildChrome(base)
	if err != nil {
		return nil, err
	}
	if d.chromeCount.Load() < maxChromes {
		if _, loaded := d.chromes.LoadOrStore(base, c); !loaded {
			d.chromeCount.Add(1)
		}
	}
	return c, nil
}

func (d *Dashboard) buildChrome(base string) (*chrome, error) {
	asset := func(name string) string { return base + "/static/" + name + "?v=" + d.static.version(name) }
	head := chromeHead{
		Favicon:  d.favicon,
		UplotCSS: asset("vendor/uplot/uPlot.min.css"),
		AppCSS:   asset("app.css"),
		ThemeCSS: asset(themeName),
		HtmxJS:   asset("vendor/htmx/htmx.min.js"),
		UplotJS:  asset("vendor/uplot/uPlot.iife.min.js"),
		AppJS:    asset("app.js"),
		ThemeJS:  asset("theme.js"),
	}
	switch {
	case head.Favicon == "":
		head.Favicon = asset("favicon.svg")
	case strings.HasPrefix(head.Favicon, "/static/"):
		head.Favicon = base + head.Favicon
	}
	t := d.tpl.pages["error"]
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "chrome-head", head); err != nil {
		return nil, fmt.Errorf("render page head: %w", err)
	}
	c := &chrome{Head: template.HTML(buf.String()), Logout: joinPath(base, "logout"), sidebars: make(map[string]template.HTML)}
	// One sidebar per section, plus "" for pages outside every section (error and
	// confirmation pages), which mark none.
	sidebar := func(current string) error {
		sd := sidebarData{Home: joinPath(base), Brand: d.cfg.HeaderTitle}
		for _, s := range sections {
			sd.Items = append(sd.Items, navItem{URL: joinPath(base, s.path...), Label: s.label, Current: s.nav == current})
		}
		buf.Reset()
		if err := t.ExecuteTemplate(&buf, "chrome-sidebar", sd); err != nil {
			return fmt.Errorf("render sidebar: %w", err)
		}
		c.sidebars[current] = template.HTML(buf.String())
		return nil
	}
	if err := sidebar(""); err != nil {
		return nil, err
	}
	for _, s := range sections {
		if err := sidebar(s.nav); err != nil {
			return nil, err
		}
	}
	return c, nil
}
