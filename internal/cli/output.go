package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteJSON writes v as indented JSON followed by a newline, for scripts (--json).
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON output: %w", err)
	}
	return nil
}

// Table is a human-readable table: a header row and aligned columns, as `kubectl get` prints.
type Table struct {
	Header []string
	Rows   [][]string
}

// Append adds a row; values are formatted with fmt's %v, times and durations compactly.
func (t *Table) Append(values ...any) {
	row := make([]string, len(values))
	for i, v := range values {
		row[i] = Cell(v)
	}
	t.Rows = append(t.Rows, row)
}

// Write prints the table. Tabs and newlines inside cells are replaced by spaces so that a hostile
// job payload or queue name cannot break the alignment.
func (t *Table) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	writeRow(tw, t.Header)
	for _, r := range t.Rows {
		writeRow(tw, r)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

func writeRow(w io.Writer, cells []string) {
	for i, c := range cells {
		if i > 0 {
			io.WriteString(w, "\t")
		}
		io.WriteString(w, sanitizeCell(c))
	}
	io.WriteString(w, "\n")
}

var cellReplacer = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")

func sanitizeCell(s string) string {
	if s == "" {
		return "-"
	}
	// Drop other control characters (terminal escape sequences from stored data).
	return PlainText(cellReplacer.Replace(s))
}

// PlainText removes control characters but newlines and tabs from s, so that stored text (an
// error message, a stack) cannot move the cursor or recolour the terminal it is printed on.
// The C1 controls go too: a terminal may read U+009B as the start of an escape sequence.
func PlainText(s string) string {
	return strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7f && r <= 0x9f) {
			return -1
		}
		return r
	}, s)
}

// Cell formats one table value: zero times as "-", times in UTC to the second, durations rounded.
func Cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return x.UTC().Format("2006-01-02 15:04:05")
	case time.Duration:
		if x == 0 {
			return ""
		}
		return x.Round(time.Millisecond).String()
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case []string:
		return strings.Join(x, ",")
	default:
		return fmt.Sprint(x)
	}
}

// KeyValues prints "key: value" lines aligned on the colon, for one object (`queue info`).
func KeyValues(w io.Writer, pairs ...any) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(tw, "%s:\t%s\n", pairs[i], sanitizeCell(Cell(pairs[i+1])))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}
