/** Recorded streams, read as text through Vite's `?raw` import (unit tests only). */
declare module '*.chunks.txt?raw' {
  const text: string;
  // biome-ignore lint/style/noDefaultExport: a `?raw` import has only a default export.
  export default text;
}
