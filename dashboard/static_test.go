package dashboard

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

type manifestEntry struct {
	Name          string `json:"name"`
	Package       string `json:"package"`
	Version       string `json:"version"`
	License       string `json:"license"`
	Source        string `json:"source"`
	File          string `json:"file"`
	SHA256        string `json:"sha256"`
	LicenseFile   string `json:"license_file"`
	LicenseSHA256 string `json:"license_sha256"`
}

func TestVendorManifestMatchesFiles(t *testing.T) {
	t.Parallel()
	b, err := fs.ReadFile(staticRoot, "static/vendor/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var entries []manifestEntry
	if err := json.Unmarshal(b, &entries); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"htmx/htmx.min.js": false, "uplot/uPlot.iife.min.js": false, "uplot/uPlot.min.css": false}
	for _, e := range entries {
		if e.Version == "" || e.License == "" || e.Package == "" || e.Source == "" {
			t.Errorf("manifest entry %+v lacks a version, licence, package or source", e)
		}
		for file, sum := range map[string]string{e.File: e.SHA256, e.LicenseFile: e.LicenseSHA256} {
			data, err := fs.ReadFile(staticRoot, "static/vendor/"+file)
			if err != nil {
				t.Errorf("%s: %v", file, err)
				continue
			}
			got := sha256.Sum256(data)
			if hex.EncodeToString(got[:]) != sum {
				t.Errorf("%s: sha256 %x does not match the manifest's %s", file, got, sum)
			}
		}
		if _, ok := want[e.File]; ok {
			want[e.File] = true
		}
	}
	for f, seen := range want {
		if !seen {
			t.Errorf("manifest does not list %s", f)
		}
	}
}

var externalURL = regexp.MustCompile(`(?i)(?:src|href|action|url)\s*[=(]\s*["']?(?:https?:)?//`)

func TestNoExternalAssets(t *testing.T) {
	t.Parallel()
	for _, root := range []string{"templates", "static"} {
		var fsys fs.FS = templateFS
		if root == "static" {
			fsys = staticRoot
		}
		err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.Contains(p, "/vendor/") {
				return err
			}
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			if m := externalURL.FindString(string(b)); m != "" {
				t.Errorf("%s references an external URL: %s", p, m)
			}
			if strings.Contains(string(b), "cdn") {
				t.Errorf("%s mentions a CDN", p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	e := setup(t)
	e.add(job("q", "t", ""))
	for _, p := range []string{"/", "/queues/q", "/metrics"} {
		if m := externalURL.FindString(e.get(p).body); m != "" {
			t.Errorf("%s references an external URL: %s", p, m)
		}
	}
}

func TestStaticAssetsAreCached(t *testing.T) {
	t.Parallel()
	e := setup(t)
	page := e.get("/")
	assets := regexp.MustCompile(`(?:src|href)="/asyncmq(/static/[^"?]+)\?v=([0-9a-f]+)"`).FindAllStringSubmatch(page.body, -1)
	if len(assets) < 6 {
		t.Fatalf("found %d versioned assets on the overview, want at least 6", len(assets))
	}
	types := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
	for _, a := range assets {
		path, version := a[1], a[2]
		r := e.get(path + "?v=" + version)
		wantStatus(t, r, http.StatusOK)
		if cc := r.header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q", path, cc)
		}
		ext := path[strings.LastIndexByte(path, '.'):]
		if ct := r.header.Get("Content-Type"); ct != types[ext] {
			t.Errorf("%s: Content-Type %q, want %q", path, ct, types[ext])
		}
		if r.header.Get("ETag") != `"`+version+`"` {
			t.Errorf("%s: ETag %q", path, r.header.Get("ETag"))
		}
		// Without the right version the browser must revalidate, and the ETag answers 304.
		stale := e.get(path + "?v=old")
		if cc := stale.header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("%s unversioned: Cache-Control %q", path, cc)
		}
		wantStatus(t, e.get(path, "If-None-Match", `"`+version+`"`), http.StatusNotModified)
	}
	wantStatus(t, e.get("/favicon.ico"), http.StatusOK)
}

// TestStaticDirectoryStaysUnderTheMount reproduces issue 11 item 10: GET /asyncmq/static was
// redirected to "/static/", off the dashboard's prefix.
func TestStaticDirectoryStaysUnderTheMount(t *testing.T) {
	t.Parallel()
	for _, o := range [][]option{nil, {withOuter("/ops")}} {
		e := setup(t, o...)
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			r := e.do(method, "/static", nil)
			if loc := r.header.Get("Location"); loc != "" && !strings.HasPrefix(loc, e.base+"/") {
				t.Errorf("%s %s/static: Location %q leaves the mount", method, e.base, loc)
			}
			wantStatus(t, r, http.StatusNotFound)
		}
	}
}
