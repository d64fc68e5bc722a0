// The simulator: a real browser client of the Bouncer server. It holds credentials as Bouncer recommends
// for single-page apps: the session id only in its HttpOnly cookie, the access token in this closure
// (never localStorage), the refresh token in an HttpOnly cookie scoped to /auth/refresh.
"use strict";
(() => {
  const suffix = Math.random().toString(36).slice(2, 10);
  const password = crypto.getRandomValues(new Uint32Array(4)).join("-");
  const board = () => ({ revokedAt: 0, accepted: 0, refusedAfter: null, bytes: 0, timing: null });
  const state = {
    session: { user: "demo-session-" + suffix, registered: false, loggedIn: false, board: board() },
    jwt: { user: "demo-jwt-" + suffix, registered: false, accessToken: null, expiresAt: 0, demoExpired: false, board: board() },
    // No user of its own: the browser has one session cookie, so the hybrid column is the Session user.
    hybrid: { accessToken: null, expiresAt: 0, demoExpired: false, board: board(), tokenType: "Bearer" },
    // /api/me accepts only tokens for the deployment's own audience; /demo/state names it. Until then,
    // Bouncer's default.
    audience: "bouncer",
    // Which column's token the inspector shows, so one column's log-out does not blank the other's.
    inspecting: null,
    demo: false,
    // Push is the Bouncer column's feature (on by default, for this visitor's session only); the JWT column is plain
    // JWT unless its own switch says otherwise. The server keeps each setting per credential (sid).
    push: true,
    jwtPush: false,
    // DPoP (RFC 9449) for the Bouncer column: the key pair lives only in this page (non-extractable private key).
    dpop: false,
    editor: false,
    pattern: {},
  };

  const $ = (sel, root = document) => root.querySelector(sel);
  const el = (tag, text, className) => {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (className) e.className = className;
    return e;
  };
  const clock = t => new Date(t).toISOString().slice(11, 23);
  const utc = seconds => new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  const span = ms => {
    const s = Math.round(Math.abs(ms) / 1000);
    return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
  };

  function parseTrace(header) {
    const trace = {};
    (header || "").split(";").forEach(part => {
      const [k, v] = part.split("=").map(s => s && s.trim());
      if (k) trace[k] = v;
    });
    return trace;
  }

  function serverTiming(header) {
    const m = /bouncer;dur=([0-9.]+)/.exec(header || "");
    return m ? Number(m[1]) : null;
  }

  function bump(column, name, by) {
    const dd = $(`[data-counter="${name}"]`, column);
    dd.textContent = String(Number(dd.textContent) + by);
  }

  function addStep(list, step) {
    const li = el("li", undefined, step.ok ? "ok" : "bad");
    li.append(el("div", `${clock(step.at)}${step.timing === null || step.timing === undefined ? "" : ` · server ${step.timing} ms`}`, "when"),
      el("div", step.sent), el("div", step.did, "did"), el("div", step.answer, "status"));
    if (step.why) li.append(el("div", step.why, "why"));
    list.prepend(li);
    return li;
  }

  // One real request; the server's Bouncer-Trace header says what it did, Server-Timing how long it took.
  // Bearer clients send no cookies (cookies: false): without a token the request must go out with no credential,
  // not fall back on this browser's session cookie and act as the Session column's user. `carries` names a credential
  // the browser sends that the page cannot see (the HttpOnly refresh cookie).
  async function call(strategy, label, method, path, { body, bearer, scheme = "Bearer", proof, cookies = true, carries, list } = {}) {
    const column = $(`#col-${strategy}`);
    const timeline = list || $(".timeline", column);
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (bearer) headers["Authorization"] = scheme + " " + bearer;
    if (proof) headers["DPoP"] = proof;
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: cookies ? "same-origin" : "omit" });
    } catch (e) {
      addStep(timeline, { at: Date.now(), ok: false, sent: `${label}: ${method} ${path}`, did: "network error", answer: String(e) });
      return { status: 0 };
    }
    const at = Date.now();
    const trace = parseTrace(response.headers.get("Bouncer-Trace"));
    const timing = serverTiming(response.headers.get("Server-Timing"));
    const text = await response.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    const bytes = Number(trace["credential-bytes"] || 0);
    const lookups = Number(trace["session-lookups"] || 0);
    const storeLookups = Number(trace["store-lookups"] || 0);
    const trips = Number(trace["store-round-trips"] || 0);
    const signatures = Number(trace["signature-checks"] || 0);
    const revocation = Number(trace["revocation-checks"] || 0);
    if (!list) {
      bump(column, "requests", 1);
      bump(column, "lookups", lookups);
      bump(column, "store", trips);
      bump(column, "signatures", signatures);
      bump(column, "bytes", bytes);
    }
    const credential = trace.strategy === "session" ? `session cookie (${bytes} bytes)`
      : trace.strategy === "jwt" ? (scheme === "DPoP" ? `DPoP-bound token (${bytes} bytes) + proof` : `bearer token (${bytes} bytes)`) : carries || "no credential";
    const did = [
      lookups ? `session lookup: ${storeLookups ? "store round trip" : "near cache (memory)"}` : "no session lookup",
      signatures ? "signature verified" : "no signature check",
      revocation ? "revocation state checked in memory" : "no revocation check",
    ];
    const otherTrips = trips - storeLookups;
    if (otherTrips > 0) did.push(`${otherTrips} store round trip${otherTrips > 1 ? "s" : ""}`);
    const reason = (json && json.reason) || trace.reason;
    const ok = response.status >= 200 && response.status < 300;
    const li = addStep(timeline, {
      at, timing, ok,
      sent: `${label}: ${method} ${path} with ${credential}`,
      did: did.join(" · "),
      answer: ok ? `${response.status} OK` : `${response.status}${reason ? " " + reason : ""}`,
    });
    if (!list && (trace.strategy === "session" || trace.strategy === "jwt")) {
      state[strategy].board.bytes = bytes;
      state[strategy].board.kind = trace.strategy;
    }
    if (!list && timing !== null) state[strategy].board.timing = timing;
    return { status: response.status, ok, json, reason, trace, li, at, timing };
  }

  function explain(li, text) {
    if (li && text) li.append(el("div", text, "why"));
  }

  // Registration takes no credential: sent without cookies, so it never goes out as the Session column's user.
  // ---- DPoP (RFC 9449): proofs signed by a WebCrypto key whose private half never leaves the browser ----
  const b64u = bytes => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const utf8 = text => new TextEncoder().encode(text);
  const dpopKeys = {};

  // One key per client name: "browser" is this page's, "second" is the other client a copied token lands on.
  async function dpopKey(client = "browser") {
    if (!dpopKeys[client]) {
      // extractable: false, so script on this page can sign with the private key but never read it out (RFC 9449 2).
      const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
      const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", pair.publicKey);
      dpopKeys[client] = { pair, jwk: { kty, crv, x, y } };
    }
    return dpopKeys[client];
  }

  // RFC 9449 4.2: typ dpop+jwt, the public jwk in the header; jti, htm, htu, iat (and ath with a token) in the payload.
  async function dpopProof(method, path, accessToken, client = "browser") {
    const key = await dpopKey(client);
    const header = { typ: "dpop+jwt", alg: "ES256", jwk: key.jwk };
    const payload = { jti: crypto.randomUUID(), htm: method, htu: location.origin + path, iat: Math.floor(Date.now() / 1000) };
    if (accessToken) payload.ath = b64u(await crypto.subtle.digest("SHA-256", utf8(accessToken)));
    const input = b64u(utf8(JSON.stringify(header))) + "." + b64u(utf8(JSON.stringify(payload)));
    // WebCrypto's ECDSA signature is r || s, the JWS form (RFC 7518 3.4).
    const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key.pair.privateKey, utf8(input));
    return input + "." + b64u(signature);
  }

  async function ensureUser(strategy, account = strategy) {
    const s = state[account];
    if (s.registered) return;
    const r = await call(strategy, "Register", "POST", "/auth/register", { body: { username: s.user, password }, cookies: false });
    s.registered = r.status === 201 || r.status === 409;
  }

  const tokenSource = {
    jwt: "From the JWT column: the access token of /auth/login or /auth/refresh.",
    hybrid: "From the Bouncer hybrid column: minted from the session by POST /auth/token; its sid is the session's.",
  };

  function decodePart(part) {
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(b64 + "===".slice((b64.length + 3) % 4)), c => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  }
  const encodePart = obj => btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(obj)))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

  function showToken(token, strategy) {
    const box = $("#inspector");
    box.replaceChildren();
    state.inspecting = token ? strategy : null;
    if (!token) { box.textContent = "No token held."; return; }
    const [h, p, sig] = token.split(".");
    const payload = decodePart(p);
    box.append(el("p", tokenSource[strategy], "source"));
    for (const [title, content] of [["Header", JSON.stringify(decodePart(h), null, 2)], ["Payload", JSON.stringify(payload, null, 2)], ["Signature (base64url, not checked here)", sig]]) {
      box.append(el("h3", title), el("pre", content));
    }
    // exp, iat and auth_time are NumericDates (RFC 7519 2): seconds since 1970, shown here as times.
    const times = el("ul", undefined, "claims-time");
    times.setAttribute("aria-label", "Token times");
    for (const [claim, meaning] of [["iat", "issued"], ["exp", "expires"], ["auth_time", "password proved"]]) {
      if (typeof payload[claim] !== "number") continue;
      const delta = payload[claim] * 1000 - Date.now();
      const li = el("li", `${claim} (${meaning}): ${utc(payload[claim])}, ${delta >= 0 ? "in " + span(delta) : span(delta) + " ago"}`);
      li.dataset.claim = claim;
      times.append(li);
    }
    box.append(el("h3", "Times"), times);
  }

  const lifetimeText = {
    jwt: (left, s) => s.demoExpired
      ? "Access token expired (demo clock): the server now refuses it as token_expired. Refresh gets a new one."
      : left > 0
        ? `Access token valid for ${Math.floor(left / 60)} min ${left % 60} s more: without push revocation, that is how long a revoked user keeps access.`
        : "Access token expired: Refresh gets a new one.",
    hybrid: (left, s) => s.demoExpired
      ? "Hybrid token expired (demo clock): the server now refuses it as token_expired. Refresh mints a new one from the session."
      : left > 0
        ? `Hybrid token valid for ${Math.floor(left / 60)} min ${left % 60} s more: without push revocation, that is how long it outlives a revoked session (which mints no more).`
        : "Hybrid token expired: the next request mints a new one from the session.",
  };

  function showLifetime() {
    for (const strategy of ["jwt", "hybrid"]) {
      const p = $("[data-lifetime]", $(`#col-${strategy}`));
      const s = state[strategy];
      if (!s.accessToken) { p.hidden = true; continue; }
      const left = Math.max(0, Math.round((s.expiresAt - Date.now()) / 1000));
      p.hidden = false;
      p.textContent = lifetimeText[strategy](left, s);
    }
    showState();
    showBoard();
  }
  setInterval(showLifetime, 1000);

  function showState() {
    const text = {
      session: state.session.loggedIn ? `Logged in as ${state.session.user} (session cookie).` : "Logged out.",
      jwt: state.jwt.accessToken ? `Holding an access token for ${state.jwt.user}; push ${state.jwtPush ? "on" : "off"}.` : "No token held.",
      hybrid: state.session.loggedIn ? `Session of ${state.session.user}${state.hybrid.accessToken ? `, holding a minted ${state.hybrid.tokenType === "DPoP" ? "DPoP-bound " : ""}token` : ""}; push ${state.push ? "on" : "off"}; DPoP ${state.dpop ? "on" : "off"}.` : "Logged out.",
    };
    for (const strategy of ["session", "jwt", "hybrid"]) $("[data-state]", $(`#col-${strategy}`)).textContent = text[strategy];
  }

  function keepToken(strategy, json) {
    if (json && json.access_token) {
      const s = state[strategy];
      s.accessToken = json.access_token;
      s.tokenType = json.token_type || "Bearer";
      s.expiresAt = Date.now() + json.expires_in * 1000;
      s.demoExpired = false;
      showToken(json.access_token, strategy);
      showLifetime();
    }
  }

  function dropToken(strategy) {
    state[strategy].accessToken = null;
    state[strategy].demoExpired = false;
    if (state.inspecting === strategy) showToken(null);
    showLifetime();
  }

  // ---- the revocation scoreboard ----
  function revoked(strategy, at) {
    Object.assign(state[strategy].board, { revokedAt: at, accepted: 0, refusedAfter: null });
    showBoard();
  }

  function counted(strategy, r) {
    const b = state[strategy].board;
    if (!b.revokedAt || b.refusedAfter !== null) return;
    if (r.ok) b.accepted++;
    else if (r.status === 401) b.refusedAfter = r.at - b.revokedAt;
    showBoard();
  }

  function showBoard() {
    for (const strategy of ["session", "jwt", "hybrid"]) {
      const b = state[strategy].board;
      const row = $(`#scoreboard [data-row="${strategy}"]`);
      const cell = name => $(`[data-cell="${name}"]`, row);
      cell("revoked").textContent = b.revokedAt ? clock(b.revokedAt) : "not yet";
      let after = "–";
      if (b.revokedAt && b.refusedAfter !== null) {
        after = `refused after ${b.refusedAfter} ms${b.accepted ? ` (${b.accepted} request${b.accepted > 1 ? "s" : ""} accepted first)` : ""}`;
      } else if (b.revokedAt) {
        const s = state[strategy];
        const left = s.accessToken ? Math.max(0, Math.round((s.expiresAt - Date.now()) / 1000)) : 0;
        after = `still accepted for ${b.accepted} request${b.accepted === 1 ? "" : "s"} and ${span(Date.now() - b.revokedAt)}`
          + (s.accessToken ? ` (token lifetime left: ${span(left * 1000)})` : "");
      }
      const afterCell = cell("after");
      afterCell.textContent = after;
      afterCell.dataset.outcome = b.refusedAfter !== null ? "refused" : b.revokedAt ? "accepted" : "none";
      cell("bytes").textContent = b.bytes ? `${b.bytes} B (${b.kind === "session" ? "session cookie" : "bearer token"})` : "–";
      cell("timing").textContent = b.timing === null ? "–" : `${b.timing} ms (article: ~0.5 ms Redis lookup)`;
    }
    const cookie = state.session.board.bytes, token = state.jwt.board.bytes;
    if (cookie && token) {
      $("#bytes-ratio").textContent = `A JWT request carries ${token} B against the session cookie's ${cookie} B: ${(token / cookie).toFixed(1)}× the bytes, on every request.`;
    }
  }

  // ---- the refresh-token pattern, filled from the JWT column's real answers ----
  function pattern(step, r, text) {
    const li = $(`#pattern [data-step="${step}"]`);
    li.classList.remove("done", "failed");
    li.classList.add(r.ok || step === "expired" || step === "revoked" ? "done" : "failed");
    $(".seen", li).textContent = `${clock(r.at)}: ${r.status}${r.reason ? " " + r.reason : " OK"}. ${text}`;
    state.pattern[step] = true;
  }

  // With DPoP on, the exchange carries a proof (RFC 9449 5): the minted token is bound to this browser's key.
  async function mint(label) {
    const proof = state.dpop ? await dpopProof("POST", "/auth/token") : undefined;
    const r = await call("hybrid", state.dpop ? label + " (DPoP-bound)" : label, "POST", "/auth/token", { body: { audience: state.audience }, proof });
    keepToken("hybrid", r.json);
    if (r.ok && state.dpop) explain(r.li, `token_type ${r.json.token_type}: the token names this browser's key (cnf.jkt) and is useless without it.`);
    return r;
  }

  // How this page presents the Bouncer column's token: a bound one with the DPoP scheme and a fresh proof.
  async function presentHybrid(method, path, token) {
    if (state.hybrid.tokenType !== "DPoP") return { bearer: token };
    return { bearer: token, scheme: "DPoP", proof: await dpopProof(method, path, token) };
  }

  // One session lookup buys a token good for the exchange lifetime of lookup-free requests, so mint only
  // when none is held or it is about to run out (one expiring in flight would be a wasted request). A token the demo
  // clock expired is still sent: the client cannot know, and the server's refusal is the lesson.
  async function hybridToken() {
    const s = state.hybrid;
    // A token of the other kind than the switch asks for is replaced: the switch decides the next token.
    if (s.accessToken && s.expiresAt - Date.now() > 5000 && (s.tokenType === "DPoP") === state.dpop) return s.accessToken;
    const r = await mint("Mint JWT from the session");
    return r.json && r.json.access_token ? s.accessToken : null;
  }

  // Why a refusal happened, in the article's words.
  const tokenWhy = {
    token_expired: "The token's exp claim is in the past (the demo clock judges it expired): the signature is still fine.",
    token_revoked: "The signature is still valid, but the revocation this server was pushed names the token: refused from memory.",
  };

  async function sessionWhy(r) {
    if (r.reason !== "session_invalid") return;
    const why = await fetch("/demo/session").then(x => x.ok ? x.json() : null).catch(() => null);
    if (!why) return;
    if (why.session === "absent") explain(r.li, "Gone from the store: the session was deleted (revoked or logged out), so the lookup finds nothing.");
    else if (why.session === "expired") explain(r.li, `Still in the store, but its expiry (${utc(why.expired_at / 1000)}) is in the past${why.deleted ? ": the engine refused it and deleted it on this read" : ""}.`);
  }

  async function sessionRequest(label = "Request") {
    const r = await call("session", label, "GET", "/api/me");
    counted("session", r);
    await sessionWhy(r);
    return r;
  }

  async function jwtRequest(label = "Request") {
    const r = await call("jwt", label, "GET", "/api/me", { bearer: state.jwt.accessToken, cookies: false });
    counted("jwt", r);
    explain(r.li, tokenWhy[r.reason]);
    if (r.ok && state.pattern.refresh) pattern("again", r, "The new token works: no lookup again until it expires.");
    else if (r.ok && state.pattern.login) pattern("request", r, `Verified with the key: ${r.trace["session-lookups"] || 0} lookups.`);
    if (r.reason === "token_expired") pattern("expired", r, "Refused by its exp claim.");
    return r;
  }

  async function hybridRequest(label = "Request", mintIfNeeded = true) {
    const token = mintIfNeeded ? await hybridToken() : state.hybrid.accessToken;
    if (!token) return null;
    const r = await call("hybrid", label, "GET", "/api/me", { ...await presentHybrid("GET", "/api/me", token), cookies: false });
    counted("hybrid", r);
    explain(r.li, tokenWhy[r.reason]);
    return r;
  }

  // A copied token (XSS, a log, a proxy) used by another client: as a plain bearer token, then with a proof by the
  // other client's own key. Bound, both are refused; unbound, the copy is as good as the original.
  async function copyToSecondClient() {
    const token = await hybridToken();
    if (!token) return;
    const column = $("#col-hybrid");
    const asBearer = await call("hybrid", "Second client: the copied token as Bearer", "GET", "/api/me", { bearer: token, cookies: false });
    if (asBearer.ok) {
      explain(asBearer.li, "Accepted: a bearer token works for whoever holds it. Switch DPoP on and mint again to bind it to this browser's key.");
      return;
    }
    explain(asBearer.li, "Refused: a DPoP-bound token presented as a bearer token is a downgrade (RFC 9449 7.2).");
    const proof = await dpopProof("GET", "/api/me", token, "second");
    const withOwnKey = await call("hybrid", "Second client: the copied token with a proof by its own key", "GET", "/api/me",
      { bearer: token, scheme: "DPoP", proof, cookies: false });
    explain(withOwnKey.li, withOwnKey.ok ? "Accepted?! The proof key should have had to match cnf.jkt."
      : "Refused: the proof is signed, but not by the key the token names (cnf.jkt), and that key never left the first browser.");
    column.dataset.copied = withOwnKey.ok ? "accepted" : "refused";
  }

  // Sends the wanted push setting: the Bouncer column's with the session cookie (its tokens carry the session's sid),
  // the JWT column's with its token (the refresh family). Without a credential, the setting waits for the next log-in.
  async function sendPush() {
    await fetch("/demo/push", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ enabled: state.push }), credentials: "same-origin" }).catch(() => null);
    showState();
  }

  async function sendJwtPush() {
    if (!state.jwt.accessToken) return;
    await fetch("/demo/push", { method: "POST", headers: { "Content-Type": "application/json", Authorization: "Bearer " + state.jwt.accessToken }, body: JSON.stringify({ enabled: state.jwtPush }), credentials: "omit" }).catch(() => null);
    showState();
  }

  // The Session and Bouncer columns are one user: the admin's revoke ends both, so both are marked and probed at once
  // (the session with its cookie, the Bouncer column with the token it holds, never a new mint).
  async function revokeSessionUser(strategy) {
    const r = await call(strategy, "Revoke (admin ends the user's access)", "POST", "/demo/revoke");
    if (!r.ok) return;
    revoked("session", r.at);
    revoked("hybrid", r.at);
    if (state.hybrid.accessToken) await hybridRequest("Request right after the revoke", false);
    await sessionRequest("Request right after the revoke");
  }

  async function sessionLogin(strategy, label) {
    await ensureUser(strategy, "session");
    const r = await call(strategy, label, "POST", "/auth/login", { body: { username: state.session.user, password, mode: "session" } });
    state.session.loggedIn = r.status === 204;
    // Login replaces the session (fixation defence), so a token minted from the old one is not kept.
    if (r.status === 204) dropToken("hybrid");
    if (!state.push) await sendPush();
    showState();
    return r;
  }

  async function sessionLogout(strategy) {
    const r = await call(strategy, "Log out", "POST", "/auth/logout");
    if (r.ok) {
      state.session.loggedIn = false;
      dropToken("hybrid");
    }
    showState();
  }

  const actions = {
    session: {
      login: () => sessionLogin("session", "Log in"),
      request: () => sessionRequest(),
      // Sessions need no client-side refresh: the idle deadline slides on the server. Listing the
      // sessions shows "last seen" moving.
      refresh: () => call("session", "Refresh (sessions slide on their own)", "GET", "/auth/sessions"),
      revoke: () => revokeSessionUser("session"),
      expire: () => call("session", "Expire (demo clock)", "POST", "/demo/expire"),
      logout: () => sessionLogout("session"),
    },
    jwt: {
      async login() {
        await ensureUser("jwt");
        const r = await call("jwt", "Log in", "POST", "/auth/login", { body: { username: state.jwt.user, password, mode: "jwt", transport: "cookie" } });
        keepToken("jwt", r.json);
        // Plain JWT unless this column's switch asks for the push: set before the first request goes out.
        if (r.ok) {
          await sendJwtPush();
          pattern("login", r, `Access token for ${r.json.expires_in} s; refresh token in an HttpOnly cookie the page cannot read.`);
        }
      },
      request: () => jwtRequest(),
      async refresh() {
        const r = await call("jwt", "Refresh", "POST", "/auth/refresh", { body: { transport: "cookie" }, carries: "refresh cookie (HttpOnly: sent by the browser to /auth/refresh only)" });
        keepToken("jwt", r.json);
        const trips = Number(r.trace ? r.trace["store-round-trips"] || 0 : 0);
        if (r.ok) pattern("refresh", r, `Checked against the store (${trips} round trips): the refresh token is a session. New access token.`);
        else if (r.reason === "refresh_token_revoked" && state.jwt.board.revokedAt) pattern("revoked", r, "The stored refresh token was revoked: once the access token ends, the user is logged out.");
      },
      async revoke() {
        const r = await call("jwt", "Revoke (admin ends the user's access)", "POST", "/demo/revoke", { bearer: state.jwt.accessToken, cookies: false });
        if (r.ok) {
          revoked("jwt", r.at);
          await jwtRequest("Request right after the revoke");
        }
      },
      async expire() {
        const r = await call("jwt", "Expire (demo clock)", "POST", "/demo/expire", { bearer: state.jwt.accessToken, cookies: false });
        if (r.ok) { state.jwt.demoExpired = true; showLifetime(); }
      },
      async logout() {
        // At /auth/refresh/logout, where the browser sends the refresh cookie: the family ends whatever the access
        // token's state. The token is dropped only when the server said so.
        const r = await call("jwt", "Log out", "POST", "/auth/refresh/logout", { bearer: state.jwt.accessToken, carries: "refresh cookie (HttpOnly)" });
        if (r.ok) {
          dropToken("jwt");
          if (r.reason) explain(r.li, `The access token was refused (${r.reason}), but the refresh cookie came along: the refresh family is ended all the same.`);
        } else explain(r.li, "Not logged out: the token is kept.");
      },
    },
    hybrid: {
      login: () => sessionLogin("hybrid", "Log in (session)"),
      request: () => hybridRequest(),
      refresh: () => mint("Refresh (mint a new JWT from the session)"),
      // The admin acts on the user, as in the other columns; the session cookie says which user.
      revoke: () => revokeSessionUser("hybrid"),
      // Sent with the token, so the demo clock judges this token expired, not the session: Refresh mints a good one.
      async expire() {
        const token = await hybridToken();
        if (!token) return;
        const r = await call("hybrid", "Expire (demo clock: this token is judged expired)", "POST", "/demo/expire", { ...await presentHybrid("POST", "/demo/expire", token), cookies: false });
        if (r.ok) { state.hybrid.demoExpired = true; showLifetime(); }
      },
      // With the cookie: the session is what minted the token. Ending it pushes its sid, which ends every token minted
      // from it.
      logout: () => sessionLogout("hybrid"),
    },
  };

  // A busy button stays focusable (aria-disabled, not disabled): disabling the focused element would drop keyboard
  // focus to the page body.
  async function run(button, work) {
    if (button.getAttribute("aria-disabled") === "true") return;
    button.setAttribute("aria-disabled", "true");
    try { await work(); } finally { button.removeAttribute("aria-disabled"); }
  }

  for (const column of document.querySelectorAll(".column")) {
    const strategy = column.dataset.strategy;
    column.addEventListener("click", event => {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      run(button, () => actions[strategy][button.dataset.action]());
    });
  }

  async function loadDemoState() {
    const status = $("#demo-status");
    try {
      const r = await fetch("/demo/state");
      if (!r.ok) throw new Error(String(r.status));
      const demo = await r.json();
      state.demo = true;
      if (demo.audience) state.audience = demo.audience;
      $("#push-toggle").checked = demo.push;
      state.push = demo.push;
      status.textContent = `Demo controls on (mode ${demo.mode}, access tokens live ${demo.access_token_lifetime} s, hybrid tokens ${demo.exchange_token_lifetime} s, near cache ${demo.near_cache ? "on" : "off"}).`;
    } catch {
      status.textContent = "Demo controls are off on this server (Production): Expire, the push switches and the scenarios below are unavailable.";
      $("#push-toggle").disabled = true;
      $("#jwt-push").disabled = true;
      document.querySelectorAll('button[data-action="expire"]').forEach(b => { b.disabled = true; });
    }
    showState();
  }

  $("#dpop-toggle").addEventListener("change", event => {
    state.dpop = event.currentTarget.checked;
    showState();
  });
  $("#dpop-copy").addEventListener("click", event => run(event.currentTarget, copyToSecondClient));

  $("#push-toggle").addEventListener("change", async event => {
    state.push = event.target.checked;
    await sendPush();
  });
  $("#jwt-push").addEventListener("change", async event => {
    state.jwtPush = event.target.checked;
    await sendJwtPush();
  });

  // ---- stale role ----
  $("#role-toggle").addEventListener("click", event => run(event.currentTarget, async () => {
    const list = $("#roles");
    const editor = !state.editor;
    const body = JSON.stringify({ editor });
    const headers = { "Content-Type": "application/json" };
    const changes = [];
    if (state.session.loggedIn) changes.push(fetch("/demo/role", { method: "POST", headers, body, credentials: "same-origin" }));
    if (state.jwt.accessToken) changes.push(fetch("/demo/role", { method: "POST", headers: { ...headers, Authorization: "Bearer " + state.jwt.accessToken }, body, credentials: "omit" }));
    if (changes.length === 0) {
      $("#role-toggle").textContent = "Log in in a column first, then give the editor role";
      return;
    }
    await Promise.all(changes.map(p => p.catch(() => null)));
    state.editor = editor;
    $("#role-toggle").textContent = editor ? "Take the editor role away" : "Give the editor role";
    const row = name => $(`[data-row="${name}"]`, list);
    const show = (name, roles, why) => {
      $('[data-cell="roles"]', row(name)).textContent = roles;
      $('[data-cell="why"]', row(name)).textContent = why;
    };
    const rolesOf = r => r && r.json && r.json.roles ? (r.json.roles.length ? r.json.roles.join(", ") : "(none)") : `refused: ${r ? r.reason : "no request"}`;
    if (state.session.loggedIn) {
      const r = await sessionRequest("Request after the role change");
      show("session", rolesOf(r), "The session reads the account on every check: the new roles at once.");
      if (state.hybrid.accessToken) {
        let h = await hybridRequest("Request with the token minted before the role change", false);
        if (h && h.reason === "token_revoked") {
          await mint("Mint again after the role change");
          h = await hybridRequest("Request with the new token", false);
          show("hybrid", rolesOf(h), "Bouncer refused the token minted before the change (pushed cut-off); the next mint carries the new roles.");
        } else {
          show("hybrid", rolesOf(h), state.push ? "A token minted after the change." : "Push off: the minted token keeps the old roles for its short life.");
        }
      } else {
        const h = await hybridRequest("Request after the role change");
        show("hybrid", rolesOf(h), "Minted after the change: the new roles.");
      }
    }
    if (state.jwt.accessToken) {
      const r = await jwtRequest("Request after the role change");
      show("jwt", rolesOf(r), r.ok
        ? "Plain JWT: the token still carries the roles it was signed with, until it is refreshed."
        : "Push on: the token minted before the change is refused; Refresh gets the new roles.");
    }
  }));

  // ---- common mistakes: crafted tokens sent to the real verifier ----
  async function mistake(kind) {
    if (!state.jwt.accessToken) await actions.jwt.login();
    const token = state.jwt.accessToken;
    if (!token) return;
    const [h, p, sig] = token.split(".");
    const header = decodePart(h), payload = decodePart(p);
    let crafted, label;
    if (kind === "none") {
      crafted = `${encodePart({ alg: "none", typ: header.typ })}.${encodePart({ ...payload, roles: ["admin"] })}.`;
      label = "alg: none, no signature, roles: admin";
    } else if (kind === "long") {
      crafted = `${h}.${encodePart({ ...payload, exp: payload.exp + 30 * 24 * 3600 })}.${sig}`;
      label = "exp moved 30 days on";
    } else {
      crafted = `${h}.${encodePart({ ...payload, email: "alice@company.com", ssn: "123-45-6789" })}.${sig}`;
      label = "ssn and email added to the payload";
    }
    const r = await call("jwt", `Crafted token (${label})`, "GET", "/api/me", { bearer: crafted, cookies: false, list: $("#mistakes") });
    const why = {
      alg_not_allowed: "Refused before any crypto: the verifier pins the algorithm, so alg none never selects \"no signature\".",
      malformed: "Refused before any crypto: with alg none and an empty signature it is not a JWS this verifier accepts; the algorithm is pinned server-side.",
      bad_signature: kind === "long"
        ? "Refused: changing exp breaks the signature. A real 30-day token would be valid for 30 days; Bouncer's access tokens live minutes, and the refresh token is stored and revocable."
        : "Refused: the signature no longer matches. And the payload was readable by anyone who saw the token: signed is not encrypted.",
    };
    explain(r.li, why[r.reason] || "");
  }
  document.querySelectorAll("button[data-mistake]").forEach(b => b.addEventListener("click", () => run(b, () => mistake(b.dataset.mistake))));

  // ---- the decision helper: the article's questions, Bouncer's answer and the configuration for it ----
  // The snippet is the README's compiled example (ReadmeSnippetTests builds it), with only the mode changed.
  const snippetTemplate = [
    "using System.Security.Claims;",
    "using Bouncer.AspNetCore;",
    "",
    "var builder = WebApplication.CreateBuilder(args);",
    "builder.Services.AddBouncer(builder.Configuration.GetSection(\"Bouncer\"))   // or AddBouncer(o => o.Mode = BouncerMode.MODE)",
    "    .UseSqlite(\"bouncer.db\");                    // or .UseSqlite(builder.Configuration): ConnectionStrings:Bouncer",
    "var app = builder.Build();",
    "app.UseBouncer();                                // caller and trace, CSRF check, authentication, authorization",
    "app.MapBouncerEndpoints();                       // /auth/*, /admin/*, JWKS, discovery, revocation feed",
    "app.MapGet(\"/orders\", (ClaimsPrincipal u) => u.FindFirst(\"sub\")!.Value).RequireAuthorization();",
    "app.MapGet(\"/reports\", () => \"for admins\").RequireAuthorization(p => p.RequireRole(\"admin\"));   // 403 without the role",
    "app.Run();",
  ].join("\n");

  function recommend() {
    const f = new FormData($("#decide"));
    const many = f.get("backends") === "many", other = f.get("clients") === "other", instant = f.get("instant") === "yes";
    let mode, why;
    if ((many || other) && instant) {
      mode = "Hybrid"; why = "Tokens for services and non-browser clients, with revocation pushed to every verifier so it still takes effect at once.";
    } else if (many || other) {
      mode = "Jwt"; why = "Signed access tokens verify anywhere without a call back; rotating refresh tokens keep logins revocable within the token lifetime.";
    } else {
      mode = "Session"; why = instant
        ? "One backend, browser clients and instant revocation: sessions are the simplest way to get it, and the near cache keeps lookups in memory."
        : "One backend and browser clients: start with sessions; add tokens when the architecture demands them.";
    }
    const out = $("#recommendation");
    out.replaceChildren();
    const p = el("p");
    p.append(el("strong", `Recommended: ${mode.toLowerCase()} mode. `), document.createTextNode(why));
    const pre = el("pre", snippetTemplate.replace("MODE", mode));
    pre.setAttribute("data-snippet", mode.toLowerCase());
    out.append(p, pre);
  }
  $("#decide").addEventListener("change", recommend);
  recommend();
  loadDemoState();
})();
