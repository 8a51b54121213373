/*
 * @NAME@: the plugin's behaviour. The whole ABI is documented in crm_plugin.h.
 * Build: make -C plugins/@NAME@   Test: crm plugin test @NAME@
 */
#include <stdio.h>
#include "crm_plugin.h"

static const struct crm_host *host;   /* plugin-scoped: valid until unload */
static struct crm_plugin *plugin;

/* GET /api/v1/plugins/@NAME@/hello */
static int hello(void *data, struct crm_call *call)
{
	(void)data;
	const char *greeting = host->config_text(plugin, "greeting");
	char json[256];
	/* greeting is a plain word in this template; escape it if yours may hold quotes */
	snprintf(json, sizeof(json), "{\"message\": \"%s from @NAME@\"}", greeting ? greeting : "hello");
	return host->respond(call, 200, json);
}

int crm_plugin_init(const struct crm_host *h, struct crm_plugin *self)
{
	if (!crm_host_compatible(h))
		return CRM_EINVAL;
	host = h;
	plugin = self;
	self->abi_version = CRM_ABI_VERSION;
	self->name = "@NAME@";
	self->version = "0.1.0";
	return host->route(self, "GET", "/@NAME@/hello", hello, NULL);
}
