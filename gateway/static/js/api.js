// The only way the client talks to the platform: the public /api/v1, JSON over fetch.
// The bearer token lives in localStorage ("stay signed in") or sessionStorage; the
// anonymous session is the HttpOnly `sid` cookie the gateway sets, which same-origin
// fetches send back (so anonymous votes follow the visitor into their account).
const BASE = '/api/v1';
const TOKEN = 'civic.token';

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
    const errors = (body && body.errors) || {};
    this.fields = { ...(errors.query || {}), ...(errors.json || {}) };
    this.retryAfter = retryAfter ? Number(retryAfter) : null;
  }
}

function payload(token) {
  try {
    return JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
  } catch { return null; }
}

function stored() {
  return sessionStorage.getItem(TOKEN) || localStorage.getItem(TOKEN);
}

let mePromise = null;
const emit = () => window.dispatchEvent(new CustomEvent('civic:auth'));

export const auth = {
  get token() {
    const token = stored();
    if (!token) return null;
    const claims = payload(token);
    if (claims && claims.exp && claims.exp * 1000 < Date.now()) { // expired: forget it
      auth.clear(true);
      return null;
    }
    return token;
  },
  get claims() { return this.token ? payload(this.token) : null; },
  set(token, remember) {
    localStorage.removeItem(TOKEN);
    sessionStorage.removeItem(TOKEN);
    (remember ? localStorage : sessionStorage).setItem(TOKEN, token);
    mePromise = null;
    emit();
  },
  clear(expired = false) {
    const had = stored();
    localStorage.removeItem(TOKEN);
    sessionStorage.removeItem(TOKEN);
    mePromise = null;
    if (had) { auth.expired = expired; emit(); }
  },
  expired: false,
};

function query(params) {
  if (!params) return '';
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v == null || v === '') continue;
    for (const item of Array.isArray(v) ? v : [v]) qs.append(k, item);
  }
  const s = qs.toString();
  return s ? `?${s}` : '';
}

/** api('GET', '/questions', {query: {country: 'FR'}}) -> parsed JSON, or throws ApiError. */
export async function api(method, path, { body, query: params, signal } = {}) {
  const headers = { Accept: 'application/json' };
  const token = auth.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(BASE + path + query(params), {
      method, headers, signal, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, null);
  }
  let data = null;
  if ((response.headers.get('Content-Type') || '').includes('json')) {
    try { data = await response.json(); } catch { data = null; }
  }
  if (!response.ok) {
    if (response.status === 401 && token) auth.clear(true); // expired or revoked token
    throw new ApiError(response.status, data, response.headers.get('Retry-After'));
  }
  return data;
}

/** The logged-in account (GET /me), cached until the token changes; null when anonymous. */
export function currentUser() {
  if (!auth.token) return Promise.resolve(null);
  if (!mePromise) {
    mePromise = api('GET', '/me').catch((err) => {
      mePromise = null;
      if (err.status === 401) return null;
      throw err;
    });
  }
  return mePromise;
}

export const isModerator = (user) => !!user && (user.roles || []).some((r) => r === 'moderator' || r === 'admin');

let countriesPromise = null;

/** The countries questions are asked in, with their languages (GET /countries), read once
 * per page load: [{country, languages, default_language}]. */
export function countries() {
  if (!countriesPromise) {
    countriesPromise = api('GET', '/countries').catch((err) => { countriesPromise = null; throw err; });
  }
  return countriesPromise;
}

/** Just the country codes, in the API's order. */
export const countryCodes = async () => (await countries()).map((c) => c.country);
