package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/asyncmqtype"
)

type repeatableView struct {
	asyncmqtype.Repeatable
	Schedule string
	Payload  string
}

type repeatableListData struct {
	Queue       string
	Repeatables []repeatableView
}

func (d *Dashboard) repeatableList(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("name")
	if _, err := d.insp.Queue(ctx, name); err != nil {
		return err
	}
	rs, err := d.insp.Repeatables(ctx, name)
	if err != nil {
		return err
	}
	data := repeatableListData{Queue: name}
	for _, rep := range rs {
		data.Repeatables = append(data.Repeatables, repeatableView{
			Repeatable: rep, Schedule: schedule(rep), Payload: d.redact.Preview(rep.Payload, payloadPreview),
		})
	}
	return d.render(w, r, http.StatusOK, "repeatables", d.newPage(w, r, "Repeatables — "+name, "queues", data))
}

func schedule(r asyncmqtype.Repeatable) string {
	if r.Cron != "" {
		return "cron " + r.Cron
	}
	return "every " + r.Interval.String()
}

// findRepeatable returns the queue's definition with the given ID; a definition of another
// queue is not found at this queue's address.
func (d *Dashboard) findRepeatable(ctx context.Context, queue, id string) (asyncmqtype.Repeatable, error) {
	rs, err := d.insp.Repeatables(ctx, queue)
	if err != nil {
		return asyncmqtype.Repeatable{}, err
	}
	for _, rep := range rs {
		if rep.ID == id {
			return rep, nil
		}
	}
	return asyncmqtype.Repeatable{}, fmt.Errorf("repeatable %q of queue %q: %w", id, queue, asyncmqtype.ErrRepeatableNotFound)
}

func (d *Dashboard) repeatableAction(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("name")
	id := strings.TrimSpace(r.PostFormValue("id"))
	if id == "" {
		return badRequest("Name the repeatable to change (the id field).")
	}
	p := d.newPage(nil, r, "", "", nil)
	c := change{Source: "repeatables", Queue: name, Detail: "id=" + id, Back: p.Path("queues", name, "repeatables")}
	action := r.PostFormValue("action")
	switch action {
	case "pause":
		c.Action = actRepeatablePause
	case "resume":
		c.Action = actRepeatableResume
	case "remove", "delete":
		c.Action = actRepeatableRemove
	default:
		return badRequest("Unknown repeatable action %q: use pause, resume or remove.", action)
	}
	if d.roleOf(r) >= requiredRole(c.Action) {
		// Only users who may act learn whether the definition exists.
		rep, err := d.findRepeatable(ctx, name, id)
		if err != nil {
			return err
		}
		c.Detail += " task=" + rep.Task
		if c.Action == actRepeatableRemove && d.needsConfirm(r, c.Action) {
			return d.confirm(w, r, confirmData{
				Heading: "Remove repeatable " + id + "?",
				Message: fmt.Sprintf("Task %s stops being scheduled (%s). Jobs it already created stay.", rep.Task, schedule(rep)),
				Button:  "Remove repeatable",
				Fields:  formFields(r, "action", "id"),
				Back:    c.Back,
			})
		}
	}
	return d.perform(w, r, c, func(ctx context.Context) (string, error) {
		switch c.Action {
		case actRepeatablePause:
			return fmt.Sprintf("Repeatable %s paused.", id), d.insp.PauseRepeatable(ctx, id)
		case actRepeatableResume:
			return fmt.Sprintf("Repeatable %s resumed.", id), d.insp.ResumeRepeatable(ctx, id)
		default:
			return fmt.Sprintf("Repeatable %s removed.", id), d.insp.RemoveRepeatable(ctx, id)
		}
	})
}

// repeatableForm is the new-repeatable form's values and its per-field errors.
type repeatableForm struct {
	Queue      string
	ID         string
	Task       string
	Every      string
	Cron       string
	Payload    string
	Priority   string
	MaxRetries string
	Paused     bool
	Errors     map[string]string
}

func (d *Dashboard) repeatableNew(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	f := repeatableForm{Queue: name, Priority: strconv.Itoa(asyncmq.DefaultPriority),
		MaxRetries: strconv.Itoa(asyncmq.DefaultMaxRetries)}
	return d.render(w, r, http.StatusOK, "repeatable_new", d.newPage(w, r, "New repeatable — "+name, "queues", f))
}

// spec validates the form; every problem is reported against its field.
func (f *repeatableForm) spec() (asyncmq.RepeatableSpec, bool) {
	f.Errors = make(map[string]string)
	s := asyncmq.RepeatableSpec{ID: f.ID, Queue: f.Queue, Task: f.Task, Paused: f.Paused}
	if f.Task == "" {
		f.Errors["task"] = "Task is required."
	} else if len(f.Task) > 200 {
		f.Errors["task"] = "Task is longer than 200 characters."
	}
	switch {
	case f.Every == "" && f.Cron == "":
		f.Errors["every"] = "Give an interval or a cron expression."
	case f.Every != "" && f.Cron != "":
		f.Errors["every"] = "Give an interval or a cron expression, not both."
	case f.Every != "":
		every, problem := parseEvery(f.Every)
		if problem != "" {
			f.Errors["every"] = problem
		}
		s.Interval = every
	default:
		if err := asyncmq.ValidateCron(f.Cron); err != nil {
			f.Errors["cron"] = strings.TrimSuffix(err.Error(), ": "+asyncmqtype.ErrInvalid.Error())
		}
		s.Cron = f.Cron
	}
	if f.Payload != "" {
		if !json.Valid([]byte(f.Payload)) {
			f.Errors["payload"] = "Payload must be valid JSON, such as {\"report\": \"daily\"}."
		}
		s.Payload = json.RawMessage(f.Payload)
	}
	for _, x := range []struct {
		field, value string
		dst          **int
		lo, hi       int
	}{{"priority", f.Priority, &s.Priority, -1000, 1000}, {"max_retries", f.MaxRetries, &s.MaxRetries, 0, 1000}} {
		if x.value == "" {
			continue
		}
		n, err := strconv.Atoi(x.value)
		if err != nil || n < x.lo || n > x.hi {
			f.Errors[x.field] = fmt.Sprintf("Must be a whole number from %d to %d.", x.lo, x.hi)
			continue
		}
		*x.dst = &n
	}
	return s, len(f.Errors) == 0
}

// parseEvery reads an interval: a Go duration ("90s", "1h") or a whole number of seconds. It
// returns the problem to show next to the field, "" when there is none.
func parseEvery(s string) (time.Duration, string) {
	const bad = "Every must be a positive number of seconds or a duration such as 5m."
	every, err := time.ParseDuration(s)
	if n, aerr := strconv.Atoi(s); aerr == nil {
		if n <= 0 || n > 1e9 {
			return 0, bad
		}
		every, err = time.Duration(n)*time.Second, nil
	}
	switch {
	case err != nil || every <= 0:
		return 0, bad
	case every < asyncmq.MinRepeatInterval:
		return 0, fmt.Sprintf("Every must be at least %s.", asyncmq.MinRepeatInterval)
	}
	return every, ""
}

func (d *Dashboard) repeatableCreate(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	p := d.newPage(nil, r, "", "", nil)
	c := change{Action: actRepeatableCreate, Source: "repeatables.new", Queue: name, Back: p.Path("queues", name, "repeatables")}
	if d.roleOf(r) < requiredRole(c.Action) {
		return d.perform(w, r, c, nil)
	}
	f := repeatableForm{
		Queue:      name,
		ID:         strings.TrimSpace(r.PostFormValue("id")),
		Task:       strings.TrimSpace(r.PostFormValue("task")),
		Every:      strings.TrimSpace(r.PostFormValue("every")),
		Cron:       strings.TrimSpace(r.PostFormValue("cron")),
		Payload:    strings.TrimSpace(r.PostFormValue("payload")),
		Priority:   strings.TrimSpace(r.PostFormValue("priority")),
		MaxRetries: strings.TrimSpace(r.PostFormValue("max_retries")),
		Paused:     r.PostFormValue("paused") != "",
	}
	spec, ok := f.spec()
	c.Detail = fmt.Sprintf("task=%s every=%s cron=%s", f.Task, f.Every, f.Cron)
	if !ok {
		var problems []string
		for k, v := range f.Errors {
			problems = append(problems, k+": "+v)
		}
		// Map order is random; the audit entry should read the same for the same form.
		slices.Sort(problems)
		d.audit(r.Context(), r, c, auditFailed, strings.Join(problems, "; "))
		if wantsJSON(r) {
			return writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "errors": f.Errors})
		}
		return d.render(w, r, http.StatusBadRequest, "repeatable_new", d.newPage(w, r, "New repeatable — "+name, "queues", f))
	}
	return d.perform(w, r, c, func(ctx context.Context) (string, error) {
		rep, err := d.insp.CreateRepeatable(ctx, spec)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("Repeatable %s created; first run %s.", rep.ID, formatTime(rep.NextRun)), nil
	})
}
