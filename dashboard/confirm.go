package dashboard

import (
	"net/http"
)

// field is a hidden form field a confirmation page carries over from the first submission.
type field struct {
	Name, Value string
}

type confirmData struct {
	Heading string
	Message string
	Button  string
	Fields  []field
	// Back is where Cancel leads.
	Back string
	// Action is the URL the confirmed form posts to; default the current one.
	Action string
}

// needsConfirm reports whether a destructive form still lacks its confirmation. A user whose
// role refuses the action gets no confirmation page: perform refuses and audits at once.
func (d *Dashboard) needsConfirm(r *http.Request, action string) bool {
	return r.PostFormValue("confirm") != "yes" && d.roleOf(r) >= requiredRole(action)
}

// confirm shows the confirmation step of a destructive action. Scripts (JSON callers) are told
// to add confirm=yes instead.
func (d *Dashboard) confirm(w http.ResponseWriter, r *http.Request, c confirmData) error {
	if wantsJSON(r) {
		return badRequest("%s Add confirm=yes to proceed.", c.Message)
	}
	if c.Action == "" {
		c.Action = publicURL(r)
	}
	c.Fields = append(c.Fields, field{"confirm", "yes"})
	if isHTMX(r) {
		// A confirmation is a page of its own; make htmx navigate instead of swapping it into a
		// fragment target.
		w.Header().Set("HX-Retarget", "body")
		w.Header().Set("HX-Reswap", "innerHTML")
	}
	return d.render(w, r, http.StatusOK, "confirm", d.newPage(w, r, c.Heading, "", c))
}

// formFields copies the named posted fields, and return_to, into hidden fields.
func formFields(r *http.Request, names ...string) []field {
	var out []field
	for _, n := range append(names, "return_to") {
		for _, v := range r.PostForm[n] {
			out = append(out, field{n, v})
		}
	}
	return out
}
