/**
 * Holds recorded exchanges to an OpenAPI document with a real JSON Schema validator (Ajv, draft
 * 2020-12, as OpenAPI 3.1 uses): the operation is documented, its credential is sent, the query
 * has only documented fields and meets their schemas, the body meets the request body's schema,
 * a success comes with a documented status and media type, and a failure is the error envelope.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { RecordedExchange } from './request-recorder.ts';

type JsonSchema = Record<string, unknown>;
type Parameter = { name: string; in: string; required: boolean; schema: JsonSchema };
type MediaTypes = Record<string, { schema?: JsonSchema }>;
export type Operation = {
  operationId: string;
  security: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: { content: MediaTypes };
  responses: Record<string, { content?: MediaTypes }>;
};
export type OpenApiDocument = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, JsonSchema> };
};

export function createValidator(): Ajv2020 {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  // OpenAPI's own schema names this format; any media range written there is a string.
  ajv.addFormat('media-range', true);
  return ajv;
}

/** `/v1/models/{id}` as a pattern of whole paths; a parameter is one segment. */
function pathPattern(template: string): RegExp {
  const escaped = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
  return new RegExp(`^${escaped.replace(/\{[^}]+\}/g, '[^/]+')}$`);
}

export type Conformance = {
  operationOf(exchange: RecordedExchange): Operation | undefined;
  /** What is wrong with an exchange by the document: nothing when it conforms. */
  problemsOf(exchange: RecordedExchange): string[];
  /** Whether a body would be accepted by the operation's request body schema. */
  bodyProblems(operation: Operation, mediaType: string, body: unknown): string[];
  queryProblems(operation: Operation, query: Record<string, string>): string[];
};

export function conformanceTo(document: OpenApiDocument): Conformance {
  const ajv = createValidator();
  const compiled = new Map<object, ValidateFunction>();
  const validatorOf = (schema: JsonSchema) => {
    let validate = compiled.get(schema);
    if (validate === undefined) {
      validate = ajv.compile(schema);
      compiled.set(schema, validate);
    }
    return validate;
  };
  const errorsOf = (schema: JsonSchema, value: unknown, what: string) => {
    const validate = validatorOf(schema);
    return validate(value) ? [] : [`${what}: ${ajv.errorsText(validate.errors)}`];
  };
  const routes = Object.entries(document.paths).map(([template, operations]) => ({
    pattern: pathPattern(template),
    operations,
  }));
  const querySchemas = new Map<Operation, JsonSchema>();
  const querySchemaOf = (operation: Operation) => {
    let schema = querySchemas.get(operation);
    if (schema === undefined) {
      const fields = (operation.parameters ?? []).filter((parameter) => parameter.in === 'query');
      schema = {
        type: 'object',
        properties: Object.fromEntries(fields.map((field) => [field.name, field.schema])),
        required: fields.filter((field) => field.required).map((field) => field.name),
        additionalProperties: false,
      };
      querySchemas.set(operation, schema);
    }
    return schema;
  };

  const conformance: Conformance = {
    operationOf: (exchange) =>
      routes.find((route) => route.pattern.test(exchange.pathname))?.operations[exchange.method],
    bodyProblems(operation, mediaType, body) {
      const schema = operation.requestBody?.content[mediaType]?.schema;
      if (schema === undefined) {
        return [`no ${mediaType} request body is documented`];
      }
      return errorsOf(schema, body, 'body');
    },
    queryProblems: (operation, query) => errorsOf(querySchemaOf(operation), query, 'query'),
    problemsOf(exchange) {
      const operation = conformance.operationOf(exchange);
      if (operation === undefined) {
        return ['not in the document'];
      }
      const problems: string[] = [];
      if (operation.security.length > 0 && !exchange.authorized) {
        problems.push('sent without the credential the document names');
      }
      if (exchange.status >= 400) {
        problems.push(
          ...errorsOf(document.components.schemas.Error ?? {}, exchange.errorBody, 'error body'),
        );
        return problems;
      }
      problems.push(...conformance.queryProblems(operation, exchange.query));
      if (exchange.body !== undefined) {
        problems.push(
          ...conformance.bodyProblems(operation, exchange.contentType ?? '', exchange.body),
        );
      }
      const success = operation.responses[String(exchange.status)];
      if (success === undefined) {
        problems.push(`answered ${exchange.status}, which is not documented`);
      } else if (
        !(exchange.answerType !== undefined && exchange.answerType in (success.content ?? {}))
      ) {
        problems.push(`answered ${exchange.answerType}, which is not documented`);
      }
      return problems;
    },
  };
  return conformance;
}
