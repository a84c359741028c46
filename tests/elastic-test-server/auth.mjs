// Authentication as Elasticsearch's security layer answers it: API keys
// (`Authorization: ApiKey <base64(id:api_key)>`) and basic auth. Without a configured `auth`
// every request is anonymous and allowed (security disabled).
import crypto from 'node:crypto';
import { EsError } from './http.mjs';

const WWW_AUTHENTICATE = ['Basic realm="security", charset="UTF-8"', 'ApiKey'];

function equal(a, b) {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

function unauthorized(reason) {
  const err = new EsError(401, 'security_exception', reason, { header: { 'WWW-Authenticate': WWW_AUTHENTICATE } });
  err.headers = { 'WWW-Authenticate': WWW_AUTHENTICATE };
  return err;
}

// `auth`: {apiKey?, username?, password?}. apiKey may be given as "id:key" (the client sends
// base64 of it) or as the already encoded value; either form of the header is accepted.
export function checkAuth(auth, header, path) {
  if (!auth || (auth.apiKey === undefined && auth.username === undefined)) return;
  if (!header) throw unauthorized(`missing authentication credentials for REST request [${path}]`);
  const space = header.indexOf(' ');
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const value = space < 0 ? '' : header.slice(space + 1).trim();
  if (scheme === 'apikey' && auth.apiKey !== undefined) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const encoded = Buffer.from(auth.apiKey).toString('base64');
    if (equal(value, auth.apiKey) || equal(value, encoded) || equal(decoded, auth.apiKey)) return;
    throw unauthorized('unable to authenticate with provided credentials and anonymous access is not allowed for this request');
  }
  if (scheme === 'basic' && auth.username !== undefined) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon < 0 ? decoded : decoded.slice(0, colon);
    const pass = colon < 0 ? '' : decoded.slice(colon + 1);
    if (equal(user, auth.username) && equal(pass, auth.password ?? '')) return;
    throw unauthorized(`unable to authenticate user [${user}] for REST request [${path}]`);
  }
  throw unauthorized(`unable to authenticate with provided credentials and anonymous access is not allowed for this request`);
}
