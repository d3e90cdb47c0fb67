package sqlite

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/asyncmq/asyncmq/asyncmqtype"
)

// TestQueryPlans checks with EXPLAIN QUERY PLAN that the statements whose cost must not grow
// with the number of jobs find their rows through an index: none scans the jobs table or sorts
// the rows of a whole state.
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	s := setup(t)
	cond, _ := where(asyncmqtype.JobFilter{Queue: "q", State: asyncmqtype.StateFailed})
	queries := map[string]string{
		"claim":                   qClaim,
		"queue gate":              qQueueGate,
		"anything to claim":       qRunnable,
		"anything due":            qAnyDue,
		"anything stalled":        qAnyStalled,
		"finish":                  fmt.Sprintf(qFinish+finishNoParent, valuesList(2, 6)),
		"finish of parents":       fmt.Sprintf(qFinish+finishParent, valuesList(2, 6)),
		"any dependency":          qAnyDeps,
		"extend leases":           fmt.Sprintf(qLeaseExtend, valuesList(2, 2)),
		"release":                 fmt.Sprintf(qRelease, valuesList(2, 2)),
		"progress":                qProgress,
		"promote":                 qPromote,
		"stalled":                 qStalled,
		"unique key":              qUniqueLive,
		"parents":                 qParentStates,
		"resolve dependencies":    qDepsResolve,
		"delete by seq":           qDeleteSeqs,
		"drain":                   qDrainPick,
		"drain with delayed":      qDrainPickAll,
		"clean boundary":          qCleanKept,
		"clean":                   qCleanPick,
		"obliterate":              qQueuePick,
		"apply by ID":             qTargetsByID,
		"apply by filter":         targetsByFilter(cond),
		"page from queue start":   pageQuery(unboundedScans[0], jobCols),
		"page from queue end":     pageQuery(unboundedScans[1], jobCols),
		"counters":                qQueueCounts,
		"first anchor":            qAnchorFirst[0],
		"first anchor from end":   qAnchorFirst[1],
		"next anchor":             qAnchorNext[0],
		"next anchor from end":    qAnchorNext[1],
		"page after anchor":       pageQuery(qAnchoredPage[0], jobCols),
		"page before anchor":      pageQuery(qAnchoredPage[1], jobCols),
		"brief page from end":     pageQuery(boundedScans[0][1], briefCols),
		"brief page after anchor": pageQuery(qAnchoredPage[0], briefCols),
		"events":                  qEvents,
		"recent events":           qRecentEvents,
		"get job":                 `SELECT ` + jobCols + ` FROM asyncmq_jobs WHERE id = ?`,
		"existing IDs on insert":  qExistingIDs,
	}
	// The state is in the text of a bounded page scan, and the plan may differ per state (a
	// partial index covers some).
	for _, st := range asyncmqtype.States {
		queries["page from start, "+string(st)] = pageQuery(boundedScans[stateIndex(st)][0], jobCols)
		queries["page from end, "+string(st)] = pageQuery(boundedScans[stateIndex(st)][1], jobCols)
	}
	bad := regexp.MustCompile(`^SCAN asyncmq_jobs|TEMP B-TREE`)
	for name, q := range queries {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			args := make([]any, strings.Count(q, "?")+9)
			var plan []string
			err := s.b.write(s.ctx, t0, func(w *wtx) error {
				rows, err := w.query("EXPLAIN QUERY PLAN "+q, args...)
				if err != nil {
					return err
				}
				defer rows.Close()
				for rows.Next() {
					var id, parent, unused int
					var detail string
					if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
						return err
					}
					plan = append(plan, detail)
				}
				return rows.Err()
			})
			if err != nil {
				t.Fatalf("explain: %v", err)
			}
			if len(plan) == 0 {
				t.Fatal("empty plan")
			}
			for _, line := range plan {
				if bad.MatchString(line) {
					t.Errorf("plan step %q in\n%s", line, strings.Join(plan, "\n"))
				}
			}
		})
	}
}
