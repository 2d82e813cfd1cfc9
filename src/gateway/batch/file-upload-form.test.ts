import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../errors.ts';
import { parseFileUploadForm, type UploadLimits } from './file-upload-form.ts';

const limits: UploadLimits = {
  fileUploadBytesMax: 64,
  fileFormOverheadBytesMax: 1024,
  fileNameCharsMax: 16,
};

/** A form encoded as an SDK's fetch would send it: the body's bytes and its content type. */
async function encoded(fields: Array<[string, string | File]>) {
  const form = new FormData();
  for (const [name, value] of fields) {
    form.append(name, value);
  }
  const request = new Request('http://gateway.test/v1/files', { method: 'POST', body: form });
  return {
    bytes: new Uint8Array(await request.arrayBuffer()),
    contentType: request.headers.get('content-type') ?? undefined,
  };
}

const jsonl = (name = 'input.jsonl', text = '{"custom_id":"1"}\n') => new File([text], name);

async function refusal(body: { bytes: Uint8Array; contentType: string | undefined }) {
  try {
    await parseFileUploadForm(body.bytes, body.contentType, limits);
  } catch (error) {
    if (error instanceof GatewayError) {
      return error;
    }
    throw error;
  }
  throw new Error('the form was accepted');
}

describe('parseFileUploadForm', () => {
  it('reads the file, its name and the purpose', async () => {
    const body = await encoded([
      ['purpose', 'batch'],
      ['file', jsonl()],
    ]);
    const upload = await parseFileUploadForm(body.bytes, body.contentType, limits);
    expect(upload.filename).toBe('input.jsonl');
    expect(upload.purpose).toBe('batch');
    expect(new TextDecoder().decode(upload.content)).toBe('{"custom_id":"1"}\n');
  });

  it('takes a file of exactly fileUploadBytesMax bytes, and refuses one more byte', async () => {
    const exact = await encoded([
      ['purpose', 'batch'],
      ['file', jsonl('a.jsonl', 'x'.repeat(64))],
    ]);
    expect(
      (await parseFileUploadForm(exact.bytes, exact.contentType, limits)).content,
    ).toHaveLength(64);
    const error = await refusal(
      await encoded([
        ['purpose', 'batch'],
        ['file', jsonl('a.jsonl', 'x'.repeat(65))],
      ]),
    );
    expect(error.code).toBe('file_too_large');
    expect(error.status).toBe(400);
    expect(error.param).toBe('file');
    expect(error.message).toContain('fileUploadBytesMax');
  });

  it.each([
    { name: 'no purpose', fields: [['file', jsonl()]], param: 'purpose' },
    {
      name: 'purpose batch_output (written by the gateway only)',
      fields: [
        ['purpose', 'batch_output'],
        ['file', jsonl()],
      ],
      param: 'purpose',
    },
    {
      name: 'purpose fine-tune',
      fields: [
        ['purpose', 'fine-tune'],
        ['file', jsonl()],
      ],
      param: 'purpose',
    },
    { name: 'no file', fields: [['purpose', 'batch']], param: 'file' },
    {
      name: 'a field not read (expires_after, which would not be honoured)',
      fields: [
        ['purpose', 'batch'],
        ['file', jsonl()],
        ['expires_after[seconds]', '3600'],
      ],
      param: 'expires_after[seconds]',
    },
    {
      name: 'a file sent as a plain field',
      fields: [
        ['purpose', 'batch'],
        ['file', '{"custom_id":"1"}'],
      ],
      param: 'file',
    },
    {
      name: 'two files',
      fields: [
        ['purpose', 'batch'],
        ['file', jsonl()],
        ['file', jsonl()],
      ],
      param: 'file',
    },
    {
      name: 'a name over fileNameCharsMax',
      fields: [
        ['purpose', 'batch'],
        ['file', jsonl(`${'n'.repeat(17)}`)],
      ],
      param: 'file',
    },
    {
      name: 'a name with a control character',
      fields: [
        ['purpose', 'batch'],
        ['file', jsonl('in\u0007.jsonl')],
      ],
      param: 'file',
    },
  ] as Array<{ name: string; fields: Array<[string, string | File]>; param: string }>)(
    'refuses $name with a 400 naming $param',
    async ({ fields, param }) => {
      const error = await refusal(await encoded(fields));
      expect(error.status).toBe(400);
      expect(error.code).toBe('invalid_request');
      expect(error.param).toBe(param);
    },
  );

  it('refuses a body that is not multipart/form-data', async () => {
    const error = await refusal({
      bytes: new TextEncoder().encode('{"purpose":"batch"}'),
      contentType: 'application/json',
    });
    expect(error.status).toBe(400);
    expect(error.message).toContain('multipart/form-data');
    expect((await refusal({ bytes: new Uint8Array(0), contentType: undefined })).status).toBe(400);
  });

  it('refuses a malformed multipart body', async () => {
    const error = await refusal({
      bytes: new TextEncoder().encode('--other\r\nnot a part'),
      contentType: 'multipart/form-data; boundary=expected',
    });
    expect(error.status).toBe(400);
    expect(error.message).toContain('not a valid multipart');
  });
});
