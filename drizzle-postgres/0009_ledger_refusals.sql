-- The ledger's journal statement refuses to write (a balance guard refused, a row to end was no
-- longer open) by calling this, which fails the statement with the SQLSTATE it is given: the
-- client tells a refusal from any other error by that code, not by the message's text.
CREATE FUNCTION "tokenbank_refuse"("sqlstate" text, "message" text) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	RAISE EXCEPTION USING ERRCODE = "sqlstate", MESSAGE = "message";
END;
$$;
