package dashboard

import (
	"net/http"

	"github.com/asyncmq/asyncmq/admin"
)

// role is what a user may do on the dashboard; each role includes the ones below it.
type role int

const (
	// roleViewer sees every page and changes nothing.
	roleViewer role = iota + 1
	// roleOperator may also retry, cancel, remove and promote jobs and pause and resume queues.
	roleOperator
	// roleAdmin may also drain, clean and obliterate queues and manage repeatables.
	roleAdmin
)

func (r role) String() string {
	switch r {
	case roleViewer:
		return "viewer"
	case roleOperator:
		return "operator"
	case roleAdmin:
		return "admin"
	}
	return "none"
}

// The audited actions. Their names are what the audit log records and what roles are checked
// against.
const (
	actQueuePause       = "queue.pause"
	actQueueResume      = "queue.resume"
	actQueueDrain       = "queue.drain"
	actQueueClean       = "queue.clean"
	actQueueObliterate  = "queue.obliterate"
	actQueueRateLimit   = "queue.rate_limit"
	actJobRetry         = "job.retry"
	actJobCancel        = "job.cancel"
	actJobRemove        = "job.remove"
	actJobPromote       = "job.promote"
	actRepeatableCreate = "repeatable.create"
	actRepeatablePause  = "repeatable.pause"
	actRepeatableResume = "repeatable.resume"
	actRepeatableRemove = "repeatable.remove"
)

// anonymousActor is the audit actor when login is disabled.
const anonymousActor = "anonymous"

var actionRoles = map[string]role{
	actQueuePause:       roleOperator,
	actQueueResume:      roleOperator,
	actQueueRateLimit:   roleOperator,
	actJobRetry:         roleOperator,
	actJobCancel:        roleOperator,
	actJobRemove:        roleOperator,
	actJobPromote:       roleOperator,
	actQueueDrain:       roleAdmin,
	actQueueClean:       roleAdmin,
	actQueueObliterate:  roleAdmin,
	actRepeatableCreate: roleAdmin,
	actRepeatablePause:  roleAdmin,
	actRepeatableResume: roleAdmin,
	actRepeatableRemove: roleAdmin,
}

// requiredRole returns the role an action needs; an unknown action needs more than anyone has.
func requiredRole(action string) role {
	if r, ok := actionRoles[action]; ok {
		return r
	}
	return roleAdmin + 1
}

// roleOf returns the request user's role. Without Config.Roles, or with login disabled (no
// user), everyone the admin handler admits is an admin: the gate is then the only guard, as in
// AsyncMQ. A user admitted without any dashboard role can look but not touch.
func (d *Dashboard) roleOf(r *http.Request) role {
	u := admin.UserFromContext(r.Context())
	if !d.cfg.Roles || u == nil {
		return roleAdmin
	}
	switch {
	case u.Admin():
		return roleAdmin
	case u.HasRole("operator"):
		return roleOperator
	default:
		return roleViewer
	}
}

// actor is the ID the audit log records for the request's user.
func actor(r *http.Request) string {
	if u := admin.UserFromContext(r.Context()); u != nil && u.ID != "" {
		return u.ID
	}
	return anonymousActor
}
