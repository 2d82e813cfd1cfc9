/**
 * Reads the form of POST /v1/files: multipart/form-data with a `file` part and a `purpose` field,
 * as OpenAI's SDKs send it. The body is read through the runtime's RequestAccess with the upload's
 * own bound (fileUploadBytesMax and the form around it), never the 4 MiB JSON bound, and parsed
 * with the WHATWG form parser that Node and Workers both have. Only `batch` files are uploaded;
 * `batch_output` files are written by the gateway itself.
 */
import type { Context } from 'hono';
import type { Limits } from '../../config.ts';
import type { HonoEnv } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { arrayBufferBytes } from '../../platform/array-buffer-bytes.ts';

export type FileUpload = { filename: string; purpose: 'batch'; content: Uint8Array };

export type UploadLimits = Pick<
  Limits,
  'fileUploadBytesMax' | 'fileFormOverheadBytesMax' | 'fileNameCharsMax'
>;

/** C0 controls and DEL: a name holding them could forge log lines or headers. */
function hasControlCharacter(name: string): boolean {
  for (let index = 0; index < name.length; index += 1) {
    const code = name.charCodeAt(index);
    if (code < 0x20 || code === 0x7f) {
      return true;
    }
  }
  return false;
}

function fileTooLarge(limits: UploadLimits, bytes?: number): GatewayError {
  const size = bytes === undefined ? 'The file' : `The file of ${bytes} bytes`;
  return new GatewayError(
    'file_too_large',
    `File is too large: ${size} exceeds ${limits.fileUploadBytesMax} bytes (fileUploadBytesMax).`,
    { param: 'file' },
  );
}

async function formOf(bytes: Uint8Array, contentType: string | undefined): Promise<FormData> {
  if (contentType === undefined || !/^multipart\/form-data\s*;/i.test(contentType)) {
    throw new GatewayError(
      'invalid_request',
      'POST /v1/files takes a multipart/form-data body with the fields file and purpose.',
    );
  }
  try {
    return await new Response(arrayBufferBytes(bytes), {
      headers: { 'content-type': contentType },
    }).formData();
  } catch {
    throw new GatewayError('invalid_request', 'The body is not a valid multipart/form-data form.');
  }
}

/**
 * Only `file` and `purpose` are read; any other field (OpenAI's `expires_after`, say) is refused
 * rather than silently not honoured.
 */
function checkFieldNames(form: FormData): void {
  for (const name of form.keys()) {
    if (name !== 'file' && name !== 'purpose') {
      throw new GatewayError(
        'invalid_request',
        `${name.slice(0, 64)}: unknown field; POST /v1/files takes file and purpose.`,
        { param: name.slice(0, 64) },
      );
    }
  }
}

function purposeOf(form: FormData): 'batch' {
  const purpose = form.get('purpose');
  if (purpose === null) {
    throw new GatewayError('invalid_request', 'purpose is required.', { param: 'purpose' });
  }
  if (purpose !== 'batch') {
    const given = typeof purpose === 'string' ? `'${purpose.slice(0, 64)}'` : 'a file';
    throw new GatewayError(
      'invalid_request',
      `purpose must be 'batch', the only purpose files are uploaded for here; got ${given}.`,
      { param: 'purpose' },
    );
  }
  return purpose;
}

function fileOf(form: FormData, limits: UploadLimits): File {
  const entries = form.getAll('file');
  const [file] = entries;
  if (file === undefined || typeof file === 'string' || entries.length > 1) {
    throw new GatewayError(
      'invalid_request',
      'file is required: exactly one form part named file, sent as a file with its name.',
      { param: 'file' },
    );
  }
  if (file.name === '' || file.name.length > limits.fileNameCharsMax) {
    throw new GatewayError(
      'invalid_request',
      `The file's name must have 1 to ${limits.fileNameCharsMax} characters (fileNameCharsMax).`,
      { param: 'file' },
    );
  }
  if (hasControlCharacter(file.name)) {
    throw new GatewayError('invalid_request', "The file's name holds control characters.", {
      param: 'file',
    });
  }
  if (file.size > limits.fileUploadBytesMax) {
    throw fileTooLarge(limits, file.size);
  }
  return file;
}

/** The upload of a whole form body already read; every way it can be wrong is a 400. */
export async function parseFileUploadForm(
  bytes: Uint8Array,
  contentType: string | undefined,
  limits: UploadLimits,
): Promise<FileUpload> {
  const form = await formOf(bytes, contentType);
  checkFieldNames(form);
  const purpose = purposeOf(form);
  const file = fileOf(form, limits);
  return { filename: file.name, purpose, content: new Uint8Array(await file.arrayBuffer()) };
}

/**
 * Reads and parses the request's form. A body too large to hold an allowed file is refused
 * unread beyond that bound, with the same 400 `file_too_large` as a file found too large.
 */
export async function readFileUploadForm(c: Context<HonoEnv>): Promise<FileUpload> {
  const { config, request } = c.get('deps');
  const { limits } = config;
  let bytes: Uint8Array;
  try {
    bytes = await request.readBody(c, limits.fileUploadBytesMax + limits.fileFormOverheadBytesMax);
  } catch (error) {
    if (error instanceof GatewayError && error.code === 'request_too_large') {
      throw fileTooLarge(limits);
    }
    throw error;
  }
  return parseFileUploadForm(bytes, request.header(c, 'content-type'), limits);
}
