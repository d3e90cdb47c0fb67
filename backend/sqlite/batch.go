package sqlite

import (
	"database/sql"
	"fmt"
	"strings"
)

// Batches of rows go to SQLite as multi-row VALUES lists of bound parameters. (A JSON array read
// with json_each costs more: SQLite converts every element back to text to extract each field.)
// A batch is cut into runs whose lengths are powers of two, so that a handful of prepared
// statements serve every batch size.
const maxRunRows = 128

// runs splits n rows into power-of-two lengths of at most maxRunRows, longest first.
func runs(n int) []int {
	var out []int
	for size := maxRunRows; n > 0; size /= 2 {
		for n >= size {
			out = append(out, size)
			n -= size
		}
	}
	return out
}

// valuesList returns "(?, ?), (?, ?)" for rows rows of cols parameters.
func valuesList(rows, cols int) string {
	row := "(" + strings.Repeat("?, ", cols-1) + "?)"
	return strings.Repeat(row+", ", rows-1) + row
}

// eachRun runs tmpl, a statement with one %s where the VALUES list goes, over rows, one run at
// a time. fixed are the parameters numbered before the list (?1, ?2...), the same in every run.
// With scan set the statement is a query and scan reads its rows; otherwise the result of the
// last run is returned.
func (w *wtx) eachRun(tmpl string, fixed []any, rows [][]any, scan func(*sql.Rows) error) (sql.Result, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	cols := len(rows[0])
	var res sql.Result
	start := 0
	for _, size := range runs(len(rows)) {
		args := make([]any, 0, len(fixed)+size*cols)
		args = append(args, fixed...)
		for _, r := range rows[start : start+size] {
			args = append(args, r...)
		}
		start += size
		q := fmt.Sprintf(tmpl, valuesList(size, cols))
		if scan == nil {
			var err error
			if res, err = w.exec(q, args...); err != nil {
				return nil, err
			}
			continue
		}
		rs, err := w.query(q, args...)
		if err != nil {
			return nil, err
		}
		err = scan(rs)
		rs.Close()
		if err == nil {
			err = rs.Err()
		}
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}
