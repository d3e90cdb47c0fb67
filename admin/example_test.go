package admin_test

import (
	"log"
	"net/http"

	"github.com/asyncmq/asyncmq/admin"
	"github.com/asyncmq/asyncmq/admin/proxyauth"
)

// An admin behind oauth2-proxy, mounted at /asyncmq/ of the application's mux. Members of the
// "platform" group are administrators; the proxy's sign-out ends the session.
func Example() {
	backend, err := proxyauth.New(proxyauth.Config{
		TrustedProxies: []string{"10.0.0.0/24"},
		Headers:        proxyauth.OAuth2Proxy,
		AdminGroups:    []string{"platform"},
		LogoutURL:      "/oauth2/sign_out",
	})
	if err != nil {
		log.Fatal(err)
	}
	a, err := admin.New(admin.Config{
		EnableLogin:    true,
		Backend:        backend,
		TrustedProxies: []string{"10.0.0.0/24"},
		// Handler: the dashboard; left nil here, a placeholder page is served.
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Mount(mux)
	// http.ListenAndServe("127.0.0.1:8080", mux)
}

// Mounting inside an application that already serves everything below /operations/: the
// admin finds its public path (/operations/asyncmq) per request, so redirects and the
// dashboard's links include the outer prefix.
func ExampleAdmin_Handler() {
	a, err := admin.New(admin.Config{})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/operations/", http.StripPrefix("/operations", a.Handler()))
}
