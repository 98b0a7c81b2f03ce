// A client-rendered single-page app: the server serves index.html for every page route.
export const ssr = false
export const prerender = false
