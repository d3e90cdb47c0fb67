package dashboard

import (
	"errors"
	"net/url"
	"strconv"
)

// pageSizes are the page sizes a listing offers; any other size falls back to the default.
var pageSizes = []int{20, 50, 100}

// maxPage bounds the page number so the offset cannot overflow.
const maxPage = 100_000_000

// pager is the pagination state of a listing whose paging the backend does.
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

	path string
	q    url.Values
}

// newPager reads ?page= and ?size= leniently: a malformed or out-of-range value is clamped,
// never an error, since links get mangled and bookmarks outlive data.
func newPager(q url.Values, path string, defaultSize int) pager {
	p := pager{Page: 1, Size: defaultSize, Sizes: pageSizes, path: path, q: q}
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
	if p.Page > p.Pages {
		p.Page = p.Pages
		p.HasNext = false
		return true
	}
	return false
}

func (p *pager) openEnded(more bool) { p.HasNext = more }

// URL links to page n of the same listing with the same filters.
func (p pager) URL(n int) string { return withQuery(p.path, p.q, "page", strconv.Itoa(n)) }

// SizeURL links to the first page of the listing at another page size.
func (p pager) SizeURL(size int) string {
	return withQuery(p.path, p.q, "size", strconv.Itoa(size), "page", "")
}

// Prev is the previous page number, 0 on the first page.
func (p pager) Prev() int { return p.Page - 1 }

// Next is the next page number, 0 on the last page.
func (p pager) Next() int {
	if !p.HasNext {
		return 0
	}
	return p.Page + 1
}
