// Package passwordauth is the username and password admin.AuthBackend: a login form checked
// against a users.Store (argon2id or bcrypt hashes), with the signed-in user kept in the admin's
// server-side session.
//
// It is built for the attacks a login form attracts:
//   - attempts are throttled per username and per client before any password is hashed, with
//     429 Too Many Requests and Retry-After;
//   - an unknown user, a wrong password and a disabled account get the same status, message and
//     (by hashing against a dummy hash) the same timing;
//   - concurrent hashing is bounded, so a flood of logins cannot take every core;
//   - the session ID is renewed at sign-in (no session fixation), and the return path is
//     checked with admin.SafeRedirect (no open redirect);
//   - every request reloads the user, so disabling a user, removing it or changing its password
//     ends its sessions at once;
//   - logout is a POST that deletes the session on the server.
//
// The backend needs the admin's sessions (admin.Config.IncludeSession, on by default); admin.New
// refuses to start without them. Keep sessions in a database with users.NewSessionStore so that
// they survive restarts and are shared between processes.
package passwordauth
