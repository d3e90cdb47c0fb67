package dashboard_test

import (
	"log"
	"net/http"

	"github.com/asyncmq/asyncmq"
	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/backend/memory"
	"github.com/asyncmq/asyncmq/dashboard"
)

// Mount the dashboard at /asyncmq behind the admin handler, which adds authentication (here
// none), CSRF protection and security headers, and serves /asyncmq/health and /asyncmq/ready.
func ExampleNew() {
	insp := asyncmq.NewInspector(memory.New())
	d, err := dashboard.New(insp, dashboard.Config{Title: "Ops", AccentColor: "#0b7285"})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	a, err := admin.New(admin.Config{Handler: d, Ready: d.Ready, URLPrefix: "/asyncmq"})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Mount(mux)
	_ = mux // http.ListenAndServe("127.0.0.1:8000", mux)
	// Output:
}
