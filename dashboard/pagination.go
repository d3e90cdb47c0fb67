package dashboard

import (
	"errors"
	"net/url"
	"strconv"
)

// pageSizes are the page sizes a listing offers; any other size falls back to the default.
var pageSizes = []int{20, 50, 100}

// defaultPageSize is every listing's page size unless ?size= picks another of pageSizes.
const defaultPageSize = 20

// maxPage bounds the page number so the offset cannot overflow.
const maxPage = 100_000_000

// pager is the pagination state of a listing whose paging the backend does. setTotal or
// openEnded completes it, building the label and links the "pager" template shows.
type pager struct {
	Page  int
	Size  int
	Total int
	Pages int
	// Known is false for open-ended listings (the audit log), which only know whether a next
	// page exists.
	Known   bool
	HasNext bool
	Sizes   []int

	// Label is "Page 3 of 1,200", or "Page 3" when the total is not known.
	Label string
	// TotalText is the total with thousands separators.
	TotalText string
	// FirstURL, PrevURL, NextURL and LastURL link the neighbouring pages; each is empty where
	// there is no such page (LastURL also when the total is not known).
	FirstURL, PrevURL, NextURL, LastURL string
	// SizeLinks offer the other page sizes.
	SizeLinks []sizeLink

	path string
	q    url.Values
}

// sizeLink is one page size the pager offers; URL is empty for the current size.
type sizeLink struct {
	Size int
	URL  string
}

// newPager reads ?page= and ?size= leniently: a malformed or out-of-range value is clamped,
// never an error, since links get mangled and bookmarks outlive data.
func newPager(q url.Values, path string) pager {
	p := pager{Page: 1, Size: defaultPageSize, Sizes: pageSizes, path: path, q: q}
	// A number too large for an int still means "far past the end", which clamps to the last page.
	if n, err := strconv.Atoi(q.Get("page")); (err == nil || errors.Is(err, strconv.ErrRange)) && n > 1 {
		p.Page = min(n, maxPage)
	}
	if n, err := strconv.Atoi(q.Get("size")); err == nil {
		for _, s := range pageSizes {
			if n == s {
				p.Size = n
			}
		}
	}
	return p
}

func (p *pager) offset() int { return (p.Page - 1) * p.Size }

// setTotal records the listing's total and reports whether the requested page was past the end
// and has been moved to the last page.
func (p *pager) setTotal(total int) bool {
	p.Known = true
	p.Total = total
	p.Pages = max(1, (total+p.Size-1)/p.Size)
	p.HasNext = p.Page < p.Pages
	clamped := false
	if p.Page > p.Pages {
		p.Page = p.Pages
		p.HasNext = false
		clamped = true
	}
	p.links()
	return clamped
}

func (p *pager) openEnded(more bool) {
	p.HasNext = more
	p.links()
}

func (p *pager) links() {
	p.Label = "Page " + formatInt(p.Page)
	if p.Known {
		p.Label += " of " + formatInt(p.Pages)
		p.TotalText = formatInt(p.Total)
	}
	p.FirstURL, p.PrevURL, p.NextURL, p.LastURL = "", "", "", ""
	if p.Page > 1 {
		p.FirstURL, p.PrevURL = p.URL(1), p.URL(p.Page-1)
	}
	if p.HasNext {
		p.NextURL = p.URL(p.Page + 1)
		if p.Known {
			p.LastURL = p.URL(p.Pages)
		}
	}
	p.SizeLinks = make([]sizeLink, 0, len(p.Sizes))
	for _, s := range p.Sizes {
		l := sizeLink{Size: s}
		if s != p.Size {
			l.URL = withQuery(p.path, p.q, "size", strconv.Itoa(s), "page", "")
		}
		p.SizeLinks = append(p.SizeLinks, l)
	}
}

// URL links to page n of the same listing with the same filters.
func (p *pager) URL(n int) string { return withQuery(p.path, p.q, "page", strconv.Itoa(n)) }
