/**
 * The SQL of a program's statement lines on SQLite (the Node store and each tenant's Durable
 * Object share the dialect): one row per coupon payment of a usage record, paged in
 * (time, request, coupon) order, with `@name` parameters.
 */
export const sqliteProgramStatementQuery = `SELECT u.request_id AS requestId,
    u.created_at_ms AS createdAtMs, u.tenant_id AS tenantId, c.id AS couponId, u.model,
    u.provider_id AS providerId, u.input_tokens AS inputTokens, u.output_tokens AS outputTokens,
    json_extract(p.value, '$.amount') AS amount
  FROM usage_records u, json_each(u.paid_by) p
  JOIN coupons c ON c.id = json_extract(p.value, '$.id')
  WHERE json_extract(p.value, '$.source') = 'coupon' AND c.program = @program
    AND u.created_at_ms >= @fromMs AND u.created_at_ms < @toMs
    AND (@tenantId IS NULL OR u.tenant_id = @tenantId)
    AND (u.created_at_ms > @afterMs OR u.request_id > @afterId
      OR (u.request_id = @afterId AND c.id > @afterCouponId))
  ORDER BY u.created_at_ms, u.request_id, c.id LIMIT @limit`;
