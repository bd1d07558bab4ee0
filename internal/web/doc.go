// Package web serves Checkstack's pages: the signed-in dashboard
// (overview, system pages, the notification bell, admin forms, API keys,
// sign-in) and, with --public-status, the public status page, its Atom
// and RSS feeds and SVG badges.
//
// The pages are html/template, rendered on the server from the same
// procedures any client calls: each read and each form runs a procedure
// through its own access check, input decoding and validation
// (rpc.Procedure.Authorize and Call), as the caller, in process. There is
// no private read path; what a page shows is what the API answers that
// caller. A refused form shows the API's message next to the field it
// names, keeps what was typed, and has changed nothing.
//
// Without JavaScript every page works. With it (static/app.js, the only
// script, served from the binary), a page listens to /api/signals and,
// on a signal it lists in <body data-refresh>, refetches its own main
// content (the same URL, with X-Checkstack-Partial: main) and swaps it in;
// RESYNC, a dropped stream and a reconnect refetch too, and the bell
// rereads notification/getUnreadCount on the user's notification
// signals. A page left for another closes its stream, so that pages kept
// for back and forward do not hold the browser's few connections to the
// site.
//
// Every response carries a Content-Security-Policy without inline script
// or style, nosniff, a Referrer-Policy and frame-ancestors 'none'; every
// POST must come from a page of this site (its Origin, or failing that
// its Referer, names this host), which with the SameSite=Lax session
// cookie keeps other sites from sending the forms.
//
// # The public pages' bytes
//
// The status page is read most when something is down. Its pages (the
// page, its main content, the feeds, each badge) are kept rendered, as
// bytes, for up to ten seconds, and never past the next public signal:
// each is kept with the count of public signals (signal.Hub.PublicSeq)
// read before its render began and served only while that count stands.
// The hub counts a signal before any stream receives it, so a visitor
// whose page refetches on a signal never gets a page rendered before it.
// Per process: each instance keeps its own, and each instance's hub sees
// every signal (relayed through Redis with several).
package web
