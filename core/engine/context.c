/*
 * context.c - the connection a call reads through (see context.h).
 */
#include "context.h"
#include "store.h"

struct store_conn *context_reader(struct crm_ctx *ctx)
{
	if (ctx->txn)
		return ctx->txn;
	if (ctx->reader)
		return ctx->reader;
	return store_reader(ctx->kernel->store);
}

void context_reader_done(struct crm_ctx *ctx, struct store_conn *conn)
{
	if (conn != ctx->txn && conn != ctx->reader)
		store_reader_done(conn);
}

void context_read_begin(struct crm_ctx *ctx)
{
	if (ctx->reader || ctx->txn)
		return;
	struct store_conn *conn = store_reader(ctx->kernel->store);
	if (store_read_begin(conn) == CRM_OK)
		ctx->reader = conn;
	else
		store_reader_done(conn);
}

void context_read_end(struct crm_ctx *ctx)
{
	if (!ctx->reader)
		return;
	store_read_end(ctx->reader);
	store_reader_done(ctx->reader);
	ctx->reader = NULL;
}
