/**
 * Records what an in-process gateway receives and answers: every call through `app.request`
 * (the admin helper, inProcessCaller and inProcessOpenAI all go through it), with the request's
 * body read back as the handler saw it (JSON parsed; a multipart form as its fields, a file as
 * its text) and, for a failure, the error body. The OpenAPI test validates each against the
 * document the gateway serves.
 */
import type { InProcessGateway } from './in-process-gateway.ts';

export type RecordedExchange = {
  method: string;
  pathname: string;
  query: Record<string, string>;
  /** The request's media type, without parameters; undefined without a body. */
  contentType: string | undefined;
  /** Parsed JSON, a form's fields, or undefined without a body. */
  body: unknown;
  authorized: boolean;
  status: number;
  /** The answer's media type, without parameters. */
  answerType: string | undefined;
  /** The parsed error body of a failure (status 400 and above). */
  errorBody: unknown;
};

function mediaTypeOf(header: string | null): string | undefined {
  return header?.split(';')[0]?.trim().toLowerCase() || undefined;
}

async function bodyOf(request: Request, contentType: string | undefined): Promise<unknown> {
  if (contentType === 'multipart/form-data') {
    const fields: Record<string, string> = {};
    for (const [name, value] of (await request.formData()).entries()) {
      fields[name] = typeof value === 'string' ? value : await value.text();
    }
    return fields;
  }
  const text = await request.text();
  return text === '' ? undefined : JSON.parse(text);
}

/** Starts recording; returns the exchanges recorded so far, in the order they were answered. */
export function recordExchanges(gateway: InProcessGateway): RecordedExchange[] {
  const exchanges: RecordedExchange[] = [];
  const answer = gateway.app.request.bind(gateway.app);
  gateway.app.request = async (input, init, ...rest) => {
    const request =
      input instanceof Request
        ? input
        : new Request(new URL(String(input), 'http://gateway.test'), init);
    const url = new URL(request.url);
    if (url.protocol === 'data:') {
      // The OpenAI SDK's probe of its fetch for form support (`data:,`): not an API request.
      return answer(request, undefined, ...rest);
    }
    const copy = request.clone();
    const response = await answer(request, undefined, ...rest);
    const contentType = mediaTypeOf(request.headers.get('content-type'));
    exchanges.push({
      method: request.method.toLowerCase(),
      pathname: url.pathname,
      query: Object.fromEntries(url.searchParams),
      contentType,
      body: await bodyOf(copy, contentType),
      authorized: request.headers.has('authorization'),
      status: response.status,
      answerType: mediaTypeOf(response.headers.get('content-type')),
      errorBody: response.status >= 400 ? await response.clone().json() : undefined,
    });
    return response;
  };
  return exchanges;
}
