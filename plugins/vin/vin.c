/*
 * vin - vehicle identification numbers (ISO 3779) for the automotive pack.
 *
 * A before-hook on every object with a `vin` field (the vehicle, and the
 * automotive pack's appointments and orders that name one) normalises the VIN (upper case, no spaces or
 * dashes), refuses one that is not 17 characters of 0-9 and A-Z without I,
 * O and Q, checks the check digit at position 9 (the North American scheme,
 * also used in China) unless config check_digit is false, and sets
 * the vehicle's model_year from position 10, using position 7 to tell the 1980-2009 cycle
 * (a digit) from the 2010-2039 one (a letter).
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "crm_plugin.h"

#define VIN_LENGTH 17

static const struct crm_host *host;     /* plugin-scoped */
static bool check_digit = true;

/* ISO 3779 transliteration of a character to its value; -1 if not allowed. */
static int vin_value(char c)
{
	static const char letters[] = "ABCDEFGHJKLMNPRSTUVWXYZ";
	static const int values[] = { 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9 };
	if (c >= '0' && c <= '9')
		return c - '0';
	const char *p = c ? strchr(letters, c) : NULL;
	return p ? values[p - letters] : -1;
}

/* The check digit the other 16 characters call for: '0'..'9' or 'X'. */
static char vin_check_digit(const char *vin)
{
	static const int weights[VIN_LENGTH] = { 8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2 };
	int sum = 0;
	for (int i = 0; i < VIN_LENGTH; i++)
		sum += vin_value(vin[i]) * weights[i];
	int rest = sum % 11;
	return rest == 10 ? 'X' : (char)('0' + rest);
}

/* The model year, or 0 when position 10 holds no year code. */
static int vin_model_year(const char *vin)
{
	static const char codes[] = "ABCDEFGHJKLMNPRSTVWXY123456789";   /* 1980 .. 2009, then again */
	const char *p = strchr(codes, vin[9]);
	if (!p || !vin[9])
		return 0;
	int year = 1980 + (int)(p - codes);
	if (isalpha((unsigned char)vin[6]))
		year += 30;
	return year;
}

static int check_vin(void *data, struct crm_call *call, const char *object, const char *event)
{
	(void)data;
	(void)event;
	const char *given = host->get_text(call, CRM_VALUES, "vin");
	if (!given)
		return CRM_OK;   /* an update that leaves the VIN alone */
	char vin[VIN_LENGTH + 1];
	size_t length = 0;
	for (const char *p = given; *p; p++) {
		if (*p == ' ' || *p == '-')
			continue;
		if (length == VIN_LENGTH) {
			host->field_error(call, "vin", "a VIN has 17 characters");
			return CRM_EVALIDATION;
		}
		vin[length++] = (char)toupper((unsigned char)*p);
	}
	vin[length] = '\0';
	if (length != VIN_LENGTH) {
		host->field_error(call, "vin", "a VIN has 17 characters");
		return CRM_EVALIDATION;
	}
	for (size_t i = 0; i < length; i++) {
		if (vin_value(vin[i]) < 0) {
			char message[96];
			snprintf(message, sizeof(message), "'%c' at position %zu is not allowed in a VIN (0-9, A-Z without I, O, Q)",
			         vin[i], i + 1);
			host->field_error(call, "vin", message);
			return CRM_EVALIDATION;
		}
	}
	char expected = vin_check_digit(vin);
	if (check_digit && vin[8] != expected) {
		char message[96];
		snprintf(message, sizeof(message), "check digit is '%c' but the VIN calls for '%c': a typo?", vin[8], expected);
		host->field_error(call, "vin", message);
		return CRM_EVALIDATION;
	}
	int rc = host->set_text(call, "vin", vin);
	int year = vin_model_year(vin);
	if (rc == CRM_OK && year && strcmp(object, "vehicle") == 0)
		rc = host->set_int(call, "model_year", year);
	return rc;
}

int crm_plugin_init(const struct crm_host *h, struct crm_plugin *self)
{
	if (!crm_host_compatible(h))
		return CRM_EINVAL;
	host = h;
	self->abi_version = CRM_ABI_VERSION;
	self->name = "vin";
	self->version = "1.0.0";
	const char *config = host->config_json(self);
	check_digit = !strstr(config, "\"check_digit\":false");
	/* every object: a VIN is checked wherever one is written (objects without the field never give one) */
	int rc = host->on(self, "*", "before_create", 0, check_vin, NULL);
	if (rc == CRM_OK)
		rc = host->on(self, "*", "before_update", 0, check_vin, NULL);
	return rc;
}
