// panva's dpop package (RFC 9449) as the client of a running Bouncer server; prints one JSON line of what happened.
// node client.mjs flow <base-url> <alg> <username> <password>
// node client.mjs thumbprint '<public jwk json>'   (the package's RFC 7638 thumbprint of a key made by the C# tests)
import * as DPoP from 'dpop'

const [mode, ...args] = process.argv.slice(2)

if (mode === 'thumbprint') {
  const jwk = JSON.parse(args[0])
  const algorithm = jwk.kty === 'EC' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'Ed25519' }
  const key = await crypto.subtle.importKey('jwk', jwk, algorithm, true, ['verify'])
  console.log(JSON.stringify({ thumbprint: await DPoP.calculateThumbprint(key) }))
  process.exit(0)
}

const [base, alg, username, password] = args
const keypair = await DPoP.generateKeyPair(alg)
const out = { thumbprint: await DPoP.calculateThumbprint(keypair.publicKey) }
let nonce

// A request with a fresh proof; on use_dpop_nonce (RFC 9449 8, 9) it takes the server's nonce and tries once more.
async function send (method, path, { body, token } = {}) {
  for (let attempt = 0; ; attempt++) {
    const proof = await DPoP.generateProof(keypair, base + path, method, nonce, token)
    const headers = { DPoP: proof }
    if (body) headers['content-type'] = 'application/json'
    if (token) headers.authorization = 'DPoP ' + token
    const response = await fetch(base + path, { method, headers, body: body && JSON.stringify(body) })
    if (response.headers.get('dpop-nonce')) nonce = response.headers.get('dpop-nonce')
    const text = await response.text()
    const asked = (response.headers.get('www-authenticate') ?? '').includes('use_dpop_nonce') || text.includes('"use_dpop_nonce"')
    if (asked && attempt === 0) continue
    return { status: response.status, json: text ? JSON.parse(text) : null, proof }
  }
}

await fetch(base + '/auth/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) })
const login = await send('POST', '/auth/login', { body: { username, password, mode: 'jwt' } })
out.login = { status: login.status, token_type: login.json?.token_type }
const token = login.json?.access_token
out.access_token = token
const me = await send('GET', '/api/me', { token })
out.me = { status: me.status, sub: me.json?.sub }
// The same proof again: a replay (RFC 9449 11.1).
const replay = await fetch(base + '/api/me', { headers: { authorization: 'DPoP ' + token, DPoP: me.proof } })
out.replay = { status: replay.status, challenge: replay.headers.get('www-authenticate') }
const refreshed = await send('POST', '/auth/refresh', { body: { refresh_token: login.json?.refresh_token } })
out.refresh = { status: refreshed.status, token_type: refreshed.json?.token_type }
const again = await send('GET', '/api/me', { token: refreshed.json?.access_token })
out.refreshed_me = { status: again.status }
out.nonce_used = nonce !== undefined
console.log(JSON.stringify(out))
