package oidctest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// SignIn signs username in to a dashboard guarded by oidcauth, as a browser would, without a
// browser: it presses the login page's button (POST loginURL, with next when not empty), signs in
// at this provider's page with password, and follows the provider back to the dashboard's
// callback. It returns the callback's response, body read: a 303 to the dashboard for an admitted
// user, a 403 for a refused one. client must keep cookies (a Jar); its own redirect policy is
// not used.
func (p *Provider) SignIn(ctx context.Context, client *http.Client, loginURL, next, username, password string) (*http.Response, error) {
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	form := url.Values{}
	if next != "" {
		form.Set("next", next)
	}
	resp, err := send(ctx, &c, http.MethodPost, loginURL, form)
	if err != nil {
		return nil, err
	}
	// Follow redirects (and the dashboard's Refresh header) until the provider's sign-in page.
	for i := 0; ; i++ {
		loc := Next(resp)
		if i > 5 || loc == "" {
			return nil, fmt.Errorf("oidctest: sign-in did not reach the provider's page: %s %q", resp.Status, loc)
		}
		if strings.HasPrefix(loc, p.URL+loginPath+"?") {
			break
		}
		if resp, err = send(ctx, &c, http.MethodGet, resolve(resp, loc), nil); err != nil {
			return nil, err
		}
	}
	page, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return nil, fmt.Errorf("oidctest: sign-in page URL: %w", err)
	}
	resp, err = send(ctx, &c, http.MethodPost, p.URL+loginPath, url.Values{
		"id": {page.Query().Get("id")}, "username": {username}, "password": {password},
	})
	if err != nil {
		return nil, err
	}
	// Follow the provider's redirects back to the relying party's callback, and visit it.
	for i := 0; ; i++ {
		loc := resp.Header.Get("Location")
		if i > 5 || resp.StatusCode/100 != 3 || loc == "" {
			return nil, fmt.Errorf("oidctest: sign-in as %q refused by the provider: %s", username, resp.Status)
		}
		target := resolve(resp, loc)
		resp, err = send(ctx, &c, http.MethodGet, target, nil)
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(target, p.URL) {
			return resp, nil
		}
	}
}

// Next returns where resp sends a browser: its Location, or the URL of a "Refresh: 0; url=…"
// header, which oidcauth answers form submissions with; "" when neither.
func Next(resp *http.Response) string {
	if loc := resp.Header.Get("Location"); loc != "" {
		return loc
	}
	_, after, ok := strings.Cut(resp.Header.Get("Refresh"), "url=")
	if !ok {
		return ""
	}
	return after
}

func resolve(resp *http.Response, loc string) string {
	u, err := resp.Request.URL.Parse(loc)
	if err != nil {
		return loc
	}
	return u.String()
}

// send makes one request and reads the whole body, so that the connection is reused.
func send(ctx context.Context, c *http.Client, method, target string, form url.Values) (*http.Response, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, fmt.Errorf("oidctest: %s %s: %w", method, target, err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("oidctest: %s %s: %w", method, target, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("oidctest: read %s %s: %w", method, target, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	return resp, nil
}
