/*
 * demo.c - deterministic, realistic demo data through the object API (see
 * demo.h).
 *
 * Everything random comes from one splitmix64 stream seeded by the caller,
 * and every date is an offset from 2026-01-01, so a seed always gives the
 * same records. Countries carry their cities (with coordinates and area
 * codes), legal-form suffixes, phone and domain conventions and the naming
 * culture of their people, so that a German account is a GmbH in Munich
 * with contacts named Schneider and +49 89 phone numbers.
 *
 * Memory is flat: values are built per record and handed to object_create;
 * only the account ids (for parent accounts) grow with the run.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "auth.h"
#include "demo.h"
#include "plugin_registry.h"
#include "context.h"
#include "calendar.h"
#include "meta_model.h"
#include "object.h"

#define COUNT(array) ((int)(sizeof(array) / sizeof((array)[0])))
#define DEMO_BATCH 2000          /* records per transaction */
#define DEMO_EMAIL_DOMAIN "democrm.example"
#define DEMO_PASSWORD "demo1234"  /* every demo user's: printed at the end of the run */

/* ---- randomness --------------------------------------------------------- */

struct rng {
	uint64_t state;
};

static uint64_t rng_next(struct rng *rng)
{
	uint64_t z = (rng->state += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rng_unit(struct rng *rng)
{
	return (double)(rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [low, high]. */
static int rng_int(struct rng *rng, int low, int high)
{
	return low + (int)(rng_next(rng) % (uint64_t)(high - low + 1));
}

static bool rng_chance(struct rng *rng, double probability)
{
	return rng_unit(rng) < probability;
}

/* Standard normal (Box-Muller). */
static double rng_normal(struct rng *rng)
{
	double u = rng_unit(rng), v = rng_unit(rng);
	if (u < 1e-300)
		u = 1e-300;
	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* An index drawn with the given weights. */
static int rng_weighted(struct rng *rng, const int *weights, int count)
{
	int total = 0;
	for (int i = 0; i < count; i++)
		total += weights[i];
	int pick = rng_int(rng, 0, total - 1);
	for (int i = 0; i < count; i++) {
		if (pick < weights[i])
			return i;
		pick -= weights[i];
	}
	return count - 1;
}

#define PICK(rng, list) ((list)[rng_int((rng), 0, COUNT(list) - 1)])

/* ---- dates (proleptic Gregorian, days since 1970-01-01) ----------------- */

static int64_t days_from_civil(int year, int month, int day)
{
	return calendar_days_from_civil(year, month, day);
}

static void civil_from_days(int64_t days, int *year, int *month, int *day)
{
	int64_t y;
	calendar_civil_from_days(days, &y, month, day);
	*year = (int)y;
}

static void format_date(char *out, size_t size, int64_t days)
{
	int year, month, day;
	civil_from_days(days, &year, &month, &day);
	snprintf(out, size, "%04d-%02d-%02d", year, month, day);
}

static void format_datetime(char *out, size_t size, int64_t days, int hour, int minute)
{
	int year, month, day;
	civil_from_days(days, &year, &month, &day);
	snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:00Z", year, month, day, hour, minute);
}

/* ---- people ------------------------------------------------------------- */

enum culture {
	CULTURE_ENGLISH, CULTURE_GERMAN, CULTURE_FRENCH, CULTURE_SPANISH, CULTURE_ITALIAN,
	CULTURE_DUTCH, CULTURE_NORDIC, CULTURE_CHINESE, CULTURE_JAPANESE, CULTURE_INDIAN,
	CULTURE_PORTUGUESE, CULTURE_COUNT
};

static const char *const english_first[] = {
	"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
	"Elizabeth", "William", "Susan", "Sarah", "Thomas", "Emily", "Daniel", "Olivia", "Matthew",
	"Emma", "Christopher", "Rachel", "Andrew", "Megan", "Ryan", "Laura", "Kevin", "Hannah",
};
static const char *const english_last[] = {
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson",
	"Taylor", "Thomas", "Moore", "Martin", "Thompson", "White", "Harris", "Clark", "Lewis",
	"Walker", "Hall", "Young", "King", "Wright", "Scott", "Green", "Baker", "Campbell", "O'Brien",
};
static const char *const german_first[] = {
	"Lukas", "Anna", "Felix", "Lena", "Jonas", "Laura", "Maximilian", "Julia", "Paul", "Sophie",
	"Katharina", "Stefan", "Sabine", "Jan", "Claudia", "Matthias", "Nicole", "Tobias", "Jürgen",
};
static const char *const german_last[] = {
	"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
	"Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Braun", "Krüger",
};
static const char *const french_first[] = {
	"Camille", "Louis", "Léa", "Hugo", "Chloé", "Julien", "Manon", "Nicolas", "Claire",
	"Antoine", "Élodie", "Mathieu", "Sophie", "Thomas", "Amélie", "François",
};
static const char *const french_last[] = {
	"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
	"Moreau", "Lefèvre", "Girard", "Fournier", "Laurent", "Rousseau", "Mercier",
};
static const char *const spanish_first[] = {
	"Lucía", "Javier", "María", "Carlos", "Elena", "Alejandro", "Carmen", "Pablo", "Sofía",
	"Diego", "Isabel", "Miguel", "Valentina", "José", "Ana", "Fernando",
};
static const char *const spanish_last[] = {
	"García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez",
	"Gómez", "Díaz", "Hernández", "Ruiz", "Torres", "Ramírez", "Flores", "Castillo",
};
static const char *const italian_first[] = {
	"Giulia", "Marco", "Francesca", "Luca", "Chiara", "Alessandro", "Sara", "Matteo", "Elena",
	"Davide", "Federica", "Giorgio", "Valentina", "Simone",
};
static const char *const italian_last[] = {
	"Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino",
	"Greco", "Bruno", "Gallo", "Conti", "De Luca",
};
static const char *const dutch_first[] = {
	"Daan", "Sanne", "Bram", "Lotte", "Thijs", "Eva", "Ruben", "Fleur", "Joris", "Anouk", "Sem", "Iris",
};
static const char *const dutch_last[] = {
	"de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Visser", "Smit",
	"Meijer", "de Boer", "Mulder", "Bos",
};
static const char *const nordic_first[] = {
	"Erik", "Astrid", "Lars", "Ingrid", "Johan", "Maja", "Anders", "Elsa", "Nils", "Freja",
	"Oskar", "Linnea",
};
static const char *const nordic_last[] = {
	"Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Lindberg",
	"Persson", "Svensson", "Lindqvist", "Berg",
};
static const char *const chinese_first[] = {
	"Wei", "Fang", "Na", "Min", "Jing", "Lei", "Yang", "Jie", "Tao", "Xiaoming", "Yan", "Hui",
	"Jun", "Li", "Ying", "Hao", "Xiu", "Qiang", "Mei", "Yun", "Zhiwei", "Xin", "Bo", "Lin",
};
static const char *const chinese_last[] = {
	"Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun",
	"Ma", "Zhu", "Hu", "Guo", "He", "Lin", "Gao", "Luo", "Zheng", "Liang",
};
static const char *const japanese_first[] = {
	"Haruto", "Yui", "Sota", "Hina", "Ren", "Aoi", "Takumi", "Yuki", "Kenji", "Akiko", "Hiroshi",
	"Naoko", "Daiki", "Emi",
};
static const char *const japanese_last[] = {
	"Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura",
	"Kobayashi", "Kato", "Yoshida", "Yamada", "Sasaki", "Matsumoto",
};
static const char *const indian_first[] = {
	"Aarav", "Priya", "Rohan", "Ananya", "Vikram", "Kavya", "Arjun", "Neha", "Rahul", "Divya",
	"Sanjay", "Pooja", "Karthik", "Meera",
};
static const char *const indian_last[] = {
	"Sharma", "Patel", "Singh", "Kumar", "Gupta", "Reddy", "Iyer", "Nair", "Mehta", "Rao",
	"Joshi", "Banerjee", "Desai", "Menon",
};
static const char *const portuguese_first[] = {
	"Gabriel", "Ana", "Lucas", "Beatriz", "Rafael", "Juliana", "Pedro", "Larissa", "Mateus",
	"Camila", "Thiago", "Fernanda",
};
static const char *const portuguese_last[] = {
	"Silva", "Santos", "Oliveira", "Souza", "Lima", "Pereira", "Costa", "Almeida", "Ferreira",
	"Rodrigues", "Carvalho", "Gomes",
};

struct name_pool {
	const char *const *first;
	int first_count;
	const char *const *last;
	int last_count;
};

#define POOL(first, last) { first, COUNT(first), last, COUNT(last) }
static const struct name_pool name_pools[CULTURE_COUNT] = {
	[CULTURE_ENGLISH] = POOL(english_first, english_last),
	[CULTURE_GERMAN] = POOL(german_first, german_last),
	[CULTURE_FRENCH] = POOL(french_first, french_last),
	[CULTURE_SPANISH] = POOL(spanish_first, spanish_last),
	[CULTURE_ITALIAN] = POOL(italian_first, italian_last),
	[CULTURE_DUTCH] = POOL(dutch_first, dutch_last),
	[CULTURE_NORDIC] = POOL(nordic_first, nordic_last),
	[CULTURE_CHINESE] = POOL(chinese_first, chinese_last),
	[CULTURE_JAPANESE] = POOL(japanese_first, japanese_last),
	[CULTURE_INDIAN] = POOL(indian_first, indian_last),
	[CULTURE_PORTUGUESE] = POOL(portuguese_first, portuguese_last),
};

struct person {
	const char *first;
	const char *last;
};

static struct person random_person(struct rng *rng, enum culture culture)
{
	const struct name_pool *pool = &name_pools[culture];
	struct person person = {
		pool->first[rng_int(rng, 0, pool->first_count - 1)],
		pool->last[rng_int(rng, 0, pool->last_count - 1)],
	};
	return person;
}

/*
 * Lower-case ASCII for e-mail addresses and domains: Müller -> mueller,
 * Lefèvre -> lefevre; other characters are dropped (or become '-' if
 * dash is set).
 */
static void ascii_slug(const char *text, char *out, size_t size, bool dash)
{
	static const struct { const char *utf8, *ascii; } folds[] = {
		{ "ä", "ae" }, { "ö", "oe" }, { "ü", "ue" }, { "ß", "ss" }, { "Ä", "ae" }, { "Ö", "oe" },
		{ "Ü", "ue" }, { "é", "e" }, { "è", "e" }, { "ê", "e" }, { "ë", "e" }, { "É", "e" },
		{ "á", "a" }, { "à", "a" }, { "â", "a" }, { "ã", "a" }, { "å", "a" }, { "í", "i" },
		{ "ì", "i" }, { "î", "i" }, { "ï", "i" }, { "ó", "o" }, { "ò", "o" }, { "ô", "o" },
		{ "õ", "o" }, { "ø", "o" }, { "ú", "u" }, { "ù", "u" }, { "û", "u" }, { "ñ", "n" },
		{ "ç", "c" },
	};
	size_t len = 0;
	bool last_dash = true;  /* no leading dash */
	for (const char *p = text; *p && len + 3 < size;) {
		unsigned char c = (unsigned char)*p;
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			out[len++] = (char)c;
			last_dash = false;
			p++;
			continue;
		}
		if (c >= 'A' && c <= 'Z') {
			out[len++] = (char)(c - 'A' + 'a');
			last_dash = false;
			p++;
			continue;
		}
		bool folded = false;
		for (int i = 0; i < COUNT(folds) && c >= 0x80; i++) {
			size_t n = strlen(folds[i].utf8);
			if (strncmp(p, folds[i].utf8, n) == 0) {
				for (const char *a = folds[i].ascii; *a && len + 1 < size; a++)
					out[len++] = *a;
				p += n;
				folded = true;
				last_dash = false;
				break;
			}
		}
		if (folded)
			continue;
		if (dash && !last_dash && (c == ' ' || c == '-' || c == '&')) {
			out[len++] = '-';
			last_dash = true;
		}
		p++;
		if (c >= 0x80)  /* skip the rest of an unknown UTF-8 sequence */
			while ((*p & 0xC0) == 0x80)
				p++;
	}
	while (len > 0 && out[len - 1] == '-')
		len--;
	out[len] = '\0';
}

/* ---- places ------------------------------------------------------------- */

struct city {
	const char *name;
	const char *area;      /* area code after the country code ("" for none) */
	double lat, lng;
	const char *zh;        /* Chinese name (China only) */
};

struct country {
	const char *name;
	const char *dial;      /* country calling code */
	const char *mobile;    /* a mobile prefix */
	const char *tld;
	const char *region;
	enum culture culture;
	int weight;            /* share of accounts */
	const char *const *suffixes;
	int suffix_count;
	const struct city *cities;
	int city_count;
};

static const struct city us_cities[] = {
	{ "New York", "212", 40.7128, -74.0060, NULL }, { "San Francisco", "415", 37.7749, -122.4194, NULL },
	{ "Chicago", "312", 41.8781, -87.6298, NULL }, { "Austin", "512", 30.2672, -97.7431, NULL },
	{ "Boston", "617", 42.3601, -71.0589, NULL }, { "Seattle", "206", 47.6062, -122.3321, NULL },
	{ "Atlanta", "404", 33.7490, -84.3880, NULL }, { "Denver", "303", 39.7392, -104.9903, NULL },
};
static const struct city ca_cities[] = {
	{ "Toronto", "416", 43.6532, -79.3832, NULL }, { "Vancouver", "604", 49.2827, -123.1207, NULL },
	{ "Montreal", "514", 45.5017, -73.5673, NULL }, { "Calgary", "403", 51.0447, -114.0719, NULL },
};
static const struct city uk_cities[] = {
	{ "London", "20", 51.5074, -0.1278, NULL }, { "Manchester", "161", 53.4808, -2.2426, NULL },
	{ "Edinburgh", "131", 55.9533, -3.1883, NULL }, { "Birmingham", "121", 52.4862, -1.8904, NULL },
	{ "Bristol", "117", 51.4545, -2.5879, NULL },
};
static const struct city de_cities[] = {
	{ "Berlin", "30", 52.5200, 13.4050, NULL }, { "Munich", "89", 48.1351, 11.5820, NULL },
	{ "Hamburg", "40", 53.5511, 9.9937, NULL }, { "Frankfurt am Main", "69", 50.1109, 8.6821, NULL },
	{ "Stuttgart", "711", 48.7758, 9.1829, NULL }, { "Düsseldorf", "211", 51.2277, 6.7735, NULL },
};
static const struct city fr_cities[] = {
	{ "Paris", "1", 48.8566, 2.3522, NULL }, { "Lyon", "4", 45.7640, 4.8357, NULL },
	{ "Toulouse", "5", 43.6047, 1.4442, NULL }, { "Marseille", "4", 43.2965, 5.3698, NULL },
	{ "Nantes", "2", 47.2184, -1.5536, NULL },
};
static const struct city es_cities[] = {
	{ "Madrid", "91", 40.4168, -3.7038, NULL }, { "Barcelona", "93", 41.3874, 2.1686, NULL },
	{ "Valencia", "96", 39.4699, -0.3763, NULL }, { "Sevilla", "95", 37.3891, -5.9845, NULL },
};
static const struct city it_cities[] = {
	{ "Milano", "02", 45.4642, 9.1900, NULL }, { "Roma", "06", 41.9028, 12.4964, NULL },
	{ "Torino", "011", 45.0703, 7.6869, NULL }, { "Bologna", "051", 44.4949, 11.3426, NULL },
};
static const struct city nl_cities[] = {
	{ "Amsterdam", "20", 52.3676, 4.9041, NULL }, { "Rotterdam", "10", 51.9244, 4.4777, NULL },
	{ "Eindhoven", "40", 51.4416, 5.4697, NULL }, { "Utrecht", "30", 52.0907, 5.1214, NULL },
};
static const struct city se_cities[] = {
	{ "Stockholm", "8", 59.3293, 18.0686, NULL }, { "Göteborg", "31", 57.7089, 11.9746, NULL },
	{ "Malmö", "40", 55.6050, 13.0038, NULL },
};
static const struct city ch_cities[] = {
	{ "Zürich", "44", 47.3769, 8.5417, NULL }, { "Genève", "22", 46.2044, 6.1432, NULL },
	{ "Basel", "61", 47.5596, 7.5886, NULL },
};
static const struct city cn_cities[] = {
	{ "Shanghai", "21", 31.2304, 121.4737, "上海" }, { "Beijing", "10", 39.9042, 116.4074, "北京" },
	{ "Shenzhen", "755", 22.5431, 114.0579, "深圳" }, { "Guangzhou", "20", 23.1291, 113.2644, "广州" },
	{ "Hangzhou", "571", 30.2741, 120.1551, "杭州" }, { "Chengdu", "28", 30.5728, 104.0668, "成都" },
	{ "Suzhou", "512", 31.2990, 120.5853, "苏州" }, { "Wuhan", "27", 30.5928, 114.3055, "武汉" },
};
static const struct city jp_cities[] = {
	{ "Tokyo", "3", 35.6762, 139.6503, NULL }, { "Osaka", "6", 34.6937, 135.5023, NULL },
	{ "Nagoya", "52", 35.1815, 136.9066, NULL }, { "Yokohama", "45", 35.4437, 139.6380, NULL },
};
static const struct city in_cities[] = {
	{ "Bengaluru", "80", 12.9716, 77.5946, NULL }, { "Mumbai", "22", 19.0760, 72.8777, NULL },
	{ "New Delhi", "11", 28.6139, 77.2090, NULL }, { "Pune", "20", 18.5204, 73.8567, NULL },
	{ "Hyderabad", "40", 17.3850, 78.4867, NULL },
};
static const struct city sg_cities[] = {
	{ "Singapore", "6", 1.3521, 103.8198, NULL },
};
static const struct city au_cities[] = {
	{ "Sydney", "2", -33.8688, 151.2093, NULL }, { "Melbourne", "3", -37.8136, 144.9631, NULL },
	{ "Brisbane", "7", -27.4698, 153.0251, NULL }, { "Perth", "8", -31.9505, 115.8605, NULL },
};
static const struct city br_cities[] = {
	{ "São Paulo", "11", -23.5505, -46.6333, NULL }, { "Rio de Janeiro", "21", -22.9068, -43.1729, NULL },
	{ "Belo Horizonte", "31", -19.9167, -43.9345, NULL }, { "Curitiba", "41", -25.4284, -49.2733, NULL },
};
static const struct city mx_cities[] = {
	{ "Ciudad de México", "55", 19.4326, -99.1332, NULL }, { "Monterrey", "81", 25.6866, -100.3161, NULL },
	{ "Guadalajara", "33", 20.6597, -103.3496, NULL },
};

static const char *const us_suffixes[] = { "Inc.", "LLC", "Corp.", "Inc." };
static const char *const ca_suffixes[] = { "Inc.", "Ltd." };
static const char *const uk_suffixes[] = { "Ltd", "Ltd", "PLC" };
static const char *const de_suffixes[] = { "GmbH", "GmbH", "AG", "GmbH & Co. KG" };
static const char *const fr_suffixes[] = { "SAS", "SA", "SARL" };
static const char *const es_suffixes[] = { "S.L.", "S.A." };
static const char *const it_suffixes[] = { "S.p.A.", "S.r.l." };
static const char *const nl_suffixes[] = { "B.V.", "B.V.", "N.V." };
static const char *const se_suffixes[] = { "AB" };
static const char *const ch_suffixes[] = { "AG", "SA", "GmbH" };
static const char *const cn_suffixes[] = { "Co., Ltd." };
static const char *const jp_suffixes[] = { "K.K.", "Co., Ltd." };
static const char *const in_suffixes[] = { "Pvt. Ltd.", "Ltd." };
static const char *const sg_suffixes[] = { "Pte. Ltd." };
static const char *const au_suffixes[] = { "Pty Ltd" };
static const char *const br_suffixes[] = { "Ltda.", "S.A." };
static const char *const mx_suffixes[] = { "S.A. de C.V." };

#define PLACES(suffixes, cities) suffixes, COUNT(suffixes), cities, COUNT(cities)
static const struct country countries[] = {
	{ "United States", "1", "917", ".com", "north_america", CULTURE_ENGLISH, 24, PLACES(us_suffixes, us_cities) },
	{ "Canada", "1", "647", ".ca", "north_america", CULTURE_ENGLISH, 4, PLACES(ca_suffixes, ca_cities) },
	{ "United Kingdom", "44", "7700", ".co.uk", "emea", CULTURE_ENGLISH, 8, PLACES(uk_suffixes, uk_cities) },
	{ "Germany", "49", "151", ".de", "emea", CULTURE_GERMAN, 9, PLACES(de_suffixes, de_cities) },
	{ "France", "33", "6", ".fr", "emea", CULTURE_FRENCH, 6, PLACES(fr_suffixes, fr_cities) },
	{ "Spain", "34", "61", ".es", "emea", CULTURE_SPANISH, 3, PLACES(es_suffixes, es_cities) },
	{ "Italy", "39", "347", ".it", "emea", CULTURE_ITALIAN, 3, PLACES(it_suffixes, it_cities) },
	{ "Netherlands", "31", "6", ".nl", "emea", CULTURE_DUTCH, 3, PLACES(nl_suffixes, nl_cities) },
	{ "Sweden", "46", "70", ".se", "emea", CULTURE_NORDIC, 2, PLACES(se_suffixes, se_cities) },
	{ "Switzerland", "41", "79", ".ch", "emea", CULTURE_GERMAN, 2, PLACES(ch_suffixes, ch_cities) },
	{ "China", "86", "138", ".com.cn", "apac", CULTURE_CHINESE, 11, PLACES(cn_suffixes, cn_cities) },
	{ "Japan", "81", "90", ".co.jp", "apac", CULTURE_JAPANESE, 5, PLACES(jp_suffixes, jp_cities) },
	{ "India", "91", "98", ".in", "apac", CULTURE_INDIAN, 5, PLACES(in_suffixes, in_cities) },
	{ "Singapore", "65", "9", ".com.sg", "apac", CULTURE_CHINESE, 2, PLACES(sg_suffixes, sg_cities) },
	{ "Australia", "61", "4", ".com.au", "apac", CULTURE_ENGLISH, 3, PLACES(au_suffixes, au_cities) },
	{ "Brazil", "55", "11 9", ".com.br", "latin_america", CULTURE_PORTUGUESE, 4, PLACES(br_suffixes, br_cities) },
	{ "Mexico", "52", "1 55", ".com.mx", "latin_america", CULTURE_SPANISH, 3, PLACES(mx_suffixes, mx_cities) },
};

static const struct country *random_country(struct rng *rng)
{
	int weights[COUNT(countries)];
	for (int i = 0; i < COUNT(countries); i++)
		weights[i] = countries[i].weight;
	return &countries[rng_weighted(rng, weights, COUNT(countries))];
}

/* A fictional number in the country's format: +1 212 555 0142, +49 89 5551234. */
static void random_phone(struct rng *rng, const struct country *country, const struct city *city,
                         bool mobile, char *out, size_t size)
{
	if (strcmp(country->dial, "1") == 0) {
		snprintf(out, size, "+1 %s 555 01%02d", mobile ? country->mobile : city->area, rng_int(rng, 0, 99));
	} else if (strcmp(country->dial, "44") == 0 && mobile) {
		snprintf(out, size, "+44 7700 900%03d", rng_int(rng, 0, 999));  /* Ofcom drama range */
	} else {
		const char *prefix = mobile ? country->mobile : city->area;
		snprintf(out, size, "+%s %s%s%03d %04d", country->dial, prefix, *prefix ? " " : "",
		         rng_int(rng, 100, 999), rng_int(rng, 0, 9999));
	}
}

/* ---- companies ---------------------------------------------------------- */

enum industry {
	IND_TECHNOLOGY, IND_MANUFACTURING, IND_FINANCIAL, IND_HEALTHCARE, IND_PHARMA, IND_RETAIL,
	IND_AUTOMOTIVE, IND_ENERGY, IND_TELECOM, IND_LOGISTICS, IND_CONSTRUCTION, IND_EDUCATION,
	IND_GOVERNMENT, IND_HOSPITALITY, IND_MEDIA, IND_OTHER, IND_COUNT
};

struct industry_info {
	const char *value;         /* the enum value in metadata */
	const char *noun;          /* for descriptions */
	const char *zh;            /* sector word in a Chinese company name */
	int weight;
	const char *sectors[6];    /* words in company names, NULL-terminated */
};

static const struct industry_info industries[IND_COUNT] = {
	[IND_TECHNOLOGY] = { "technology", "technology", "科技", 16,
		{ "Software", "Systems", "Technologies", "Digital", "Data", "Networks" } },
	[IND_MANUFACTURING] = { "manufacturing", "manufacturing", "制造", 14,
		{ "Manufacturing", "Industries", "Precision", "Machinery", "Components", NULL } },
	[IND_FINANCIAL] = { "financial_services", "financial services", "金融", 9,
		{ "Capital", "Financial", "Bank", "Insurance", "Asset Management", NULL } },
	[IND_HEALTHCARE] = { "healthcare", "healthcare", "医疗", 7,
		{ "Health", "Medical", "Care", "Diagnostics", NULL } },
	[IND_PHARMA] = { "pharmaceuticals", "pharmaceutical", "医药", 4,
		{ "Pharma", "Therapeutics", "Biosciences", "Life Sciences", NULL } },
	[IND_RETAIL] = { "retail", "retail", "商贸", 9,
		{ "Retail", "Stores", "Outfitters", "Market", "Brands", NULL } },
	[IND_AUTOMOTIVE] = { "automotive", "automotive", "汽车", 5,
		{ "Automotive", "Motors", "Auto Parts", "Mobility", NULL } },
	[IND_ENERGY] = { "energy", "energy", "能源", 5,
		{ "Energy", "Power", "Utilities", "Renewables", "Solar", NULL } },
	[IND_TELECOM] = { "telecommunications", "telecommunications", "通信", 4,
		{ "Telecom", "Communications", "Wireless", "Broadband", NULL } },
	[IND_LOGISTICS] = { "logistics", "logistics", "物流", 7,
		{ "Logistics", "Freight", "Shipping", "Transport", "Supply Chain", NULL } },
	[IND_CONSTRUCTION] = { "construction", "construction", "建设", 5,
		{ "Construction", "Builders", "Engineering", "Infrastructure", NULL } },
	[IND_EDUCATION] = { "education", "education", "教育", 3,
		{ "Academy", "Learning", "Education", "Institute", NULL } },
	[IND_GOVERNMENT] = { "government", "public sector", "政务", 2,
		{ "Services", NULL } },
	[IND_HOSPITALITY] = { "hospitality", "hospitality", "酒店", 4,
		{ "Hotels", "Hospitality", "Resorts", "Restaurants", NULL } },
	[IND_MEDIA] = { "media", "media", "传媒", 3,
		{ "Media", "Studios", "Publishing", "Entertainment", NULL } },
	[IND_OTHER] = { "other", "diversified", "实业", 3,
		{ "Group", "Holdings", "Services", "Consulting", NULL } },
};

static const char *const brand_words[] = {
	"Northwind", "Contoso", "Blue Ridge", "Silverline", "Apex", "Summit", "Evergreen", "Ironwood",
	"Brightwater", "Crescent", "Pinnacle", "Redwood", "Cobalt", "Horizon", "Meridian", "Keystone",
	"Granite", "Vertex", "Harbor", "Atlas", "Polaris", "Sterling", "Oakridge", "Lakeside",
	"Riverbend", "Falcon", "Orion", "Nova", "Quantum", "Vanguard", "Beacon", "Clearwater",
	"Stonebridge", "Highland", "Maple Leaf", "Cedar", "Aurora", "Zenith", "Titan", "Nimbus",
	"Sequoia", "Bluebird", "Copperfield", "Westbrook", "Eastgate", "Northstar", "Greenfield",
	"Silverstone", "Goldcrest", "Fairview", "Alder", "Bayview", "Coral", "Driftwood", "Ember",
	"Fjord", "Glacier", "Hawthorne", "Indigo", "Juniper", "Kestrel", "Lumen", "Monarch", "Oasis",
};
static const char *const brand_adjectives[] = {
	"", "", "", "", "Global ", "United ", "Advanced ", "Pacific ", "Atlantic ", "Continental ",
	"Premier ", "First ", "Smart ", "Integrated ",
};
/* Chinese brand names: pinyin and characters. */
static const char *const chinese_brands[][2] = {
	{ "Huaxin", "华信" }, { "Zhongke", "中科" }, { "Tianyu", "天宇" }, { "Hengtong", "恒通" },
	{ "Jinlong", "金龙" }, { "Xinda", "信达" }, { "Ruifeng", "瑞丰" }, { "Haitian", "海天" },
	{ "Baosheng", "宝盛" }, { "Kaiyuan", "开元" }, { "Dongfang", "东方" }, { "Changjiang", "长江" },
	{ "Hongda", "宏达" }, { "Mingyang", "明阳" }, { "Shengshi", "盛世" }, { "Yongxin", "永信" },
};
static const char *const japanese_brands[] = {
	"Hoshino", "Aoyama", "Midori", "Nakamura", "Ishikawa", "Hayashi", "Fujimoto", "Sakura",
	"Kobayashi", "Morimoto", "Takara", "Asahi Koki",
};

struct company {
	char name[200];
	char short_name[120];   /* without the legal form, for opportunity names */
	char domain[96];
	char zh_name[160];      /* "" unless Chinese */
	enum industry industry;
	const struct country *country;
	const struct city *city;
};

static enum industry random_industry(struct rng *rng)
{
	int weights[IND_COUNT];
	for (int i = 0; i < IND_COUNT; i++)
		weights[i] = industries[i].weight;
	return (enum industry)rng_weighted(rng, weights, IND_COUNT);
}

static const char *random_sector(struct rng *rng, enum industry industry)
{
	int count = 0;
	while (count < 6 && industries[industry].sectors[count])
		count++;
	return industries[industry].sectors[rng_int(rng, 0, count - 1)];
}

static void random_company(struct rng *rng, struct company *company)
{
	const struct country *country = random_country(rng);
	const struct city *city = &country->cities[rng_int(rng, 0, country->city_count - 1)];
	enum industry industry = random_industry(rng);
	const char *suffix = country->suffixes[rng_int(rng, 0, country->suffix_count - 1)];
	const char *sector = random_sector(rng, industry);
	char slug[72];
	company->industry = industry;
	company->country = country;
	company->city = city;
	company->zh_name[0] = '\0';

	if (industry == IND_GOVERNMENT) {
		static const char *const bodies[] = {
			"City of %s", "%s Transit Authority", "%s Water Board", "%s Public Library",
			"%s Chamber of Commerce",
		};
		int body = rng_int(rng, 0, COUNT(bodies) - 1);
		snprintf(company->short_name, sizeof(company->short_name), bodies[body], city->name);
		snprintf(company->name, sizeof(company->name), "%s", company->short_name);
		if (city->zh) {
			static const char *const zh_bodies[] = { "市人民政府", "市公共交通集团", "市水务局",
			                                         "市图书馆", "市商会" };
			snprintf(company->zh_name, sizeof(company->zh_name), "%s%s", city->zh, zh_bodies[body]);
		}
	} else if (country->culture == CULTURE_CHINESE && city->zh) {
		const char *const *brand = chinese_brands[rng_int(rng, 0, COUNT(chinese_brands) - 1)];
		snprintf(company->short_name, sizeof(company->short_name), "%s %s", brand[0], sector);
		snprintf(company->name, sizeof(company->name), "%s %s %s %s", city->name, brand[0], sector, suffix);
		snprintf(company->zh_name, sizeof(company->zh_name), "%s%s%s有限公司", city->zh, brand[1],
		         industries[industry].zh);
	} else if (country->culture == CULTURE_JAPANESE) {
		const char *brand = PICK(rng, japanese_brands);
		snprintf(company->short_name, sizeof(company->short_name), "%s %s", brand, sector);
		snprintf(company->name, sizeof(company->name), "%s %s", company->short_name, suffix);
	} else if (rng_chance(rng, 0.2)) {
		/* founders' names: "Weber & Fischer Logistics GmbH" */
		struct person a = random_person(rng, country->culture);
		struct person b = random_person(rng, country->culture);
		if (strcmp(a.last, b.last) == 0)
			snprintf(company->short_name, sizeof(company->short_name), "%s %s", a.last, sector);
		else
			snprintf(company->short_name, sizeof(company->short_name), "%s & %s %s", a.last, b.last, sector);
		snprintf(company->name, sizeof(company->name), "%s %s", company->short_name, suffix);
	} else {
		const char *adjective = PICK(rng, brand_adjectives);
		const char *brand = PICK(rng, brand_words);
		snprintf(company->short_name, sizeof(company->short_name), "%s%s %s", adjective, brand, sector);
		snprintf(company->name, sizeof(company->name), "%s %s", company->short_name, suffix);
	}
	ascii_slug(company->short_name, slug, sizeof(slug), true);
	snprintf(company->domain, sizeof(company->domain), "%s%s", slug,
	         industry == IND_GOVERNMENT ? ".gov.example" : country->tld);
}

/* first.last@domain and its common variants. */
static void person_email(struct rng *rng, struct person person, const char *domain, char *out,
                         size_t size)
{
	char first[64], last[64];
	ascii_slug(person.first, first, sizeof(first), false);
	ascii_slug(person.last, last, sizeof(last), false);
	switch (rng_int(rng, 0, 5)) {
	case 0: snprintf(out, size, "%c.%s@%s", first[0], last, domain); break;
	case 1: snprintf(out, size, "%s%s@%s", first, last, domain); break;
	case 2: snprintf(out, size, "%c%s@%s", first[0], last, domain); break;
	default: snprintf(out, size, "%s.%s@%s", first, last, domain); break;
	}
}

/* ---- the run ------------------------------------------------------------ */

enum demo_kind {
	DK_TEAM, DK_USER, DK_ACCOUNT, DK_CONTACT, DK_OPPORTUNITY, DK_ACTIVITY, DK_LEAD, DK_CASE, DK_VEHICLE, DK_COUNT
};
static const char *const kind_objects[DK_COUNT] = {
	"team", "user", "account", "contact", "opportunity", "activity", "lead", "case", "vehicle",
};

struct demo {
	struct crm_ctx *ctx;
	struct rng rng;
	FILE *log;
	int64_t base_day;          /* 2026-01-01 */
	int pending;               /* creates in the open transaction */
	bool set_owner;            /* false once the object API refused owner */
	int64_t created[DK_COUNT];
	int64_t sales_users[4];    /* sales_manager, sales_rep1..3: owners, round-robin */
	int sales_user_count;
	int open_leads[4];         /* open (new, working) leads each holds: kept under the sales plugin's claim limit */
	int64_t *account_ids;
	int account_count;
	int64_t partners[2];       /* the demo's channel partners (0 when the metadata has none) */
	/*
	 * Cases and vehicles draw from a stream of their own, so that adding
	 * them left every other record of a seed as it was.
	 */
	struct rng extra_rng;
	int64_t service_agent;     /* works most cases (0 if the run found no such user) */
	int64_t admin;
	const struct meta_object *cases;     /* NULL when the metadata has no case object */
	const struct meta_object *vehicles;  /* NULL unless the vin plugin (or another) brings vehicle */
	int case_count, vehicle_count;       /* created so far */
};

static bool owner_refused(const struct crm_ctx *ctx)
{
	size_t i;
	json_t *error;
	json_array_foreach(ctx->field_errors, i, error) {
		const char *field = json_string_value(json_object_get(error, "field"));
		if (field && strcmp(field, "owner") == 0)
			return true;
	}
	return false;
}

/* Adds the first field error to ctx->message, so that one line says what failed. */
static int demo_failed(struct demo *demo, const char *object, int code)
{
	struct crm_ctx *ctx = demo->ctx;
	char message[sizeof(ctx->message)];
	snprintf(message, sizeof(message), "%s", ctx->message);
	json_t *first = json_array_get(ctx->field_errors, 0);
	if (first)
		return crm_error(ctx, code, "demo %s: %s (%s: %s)", object, message,
		                 json_string_value(json_object_get(first, "field")),
		                 json_string_value(json_object_get(first, "message")));
	return crm_error(ctx, code, "demo %s: %s", object, message);
}

/*
 * Creates one record from values (consumed) and, if id is not NULL, returns
 * its id. Commits every DEMO_BATCH creates.
 */
static int demo_create(struct demo *demo, enum demo_kind kind, json_t *values, int64_t *id)
{
	struct crm_ctx *ctx = demo->ctx;
	const char *object = kind_objects[kind];
	crm_error_reset(ctx);
	int code = object_create_id(ctx, object, values, id);
	if (code == CRM_EVALIDATION && demo->set_owner && json_object_get(values, "owner") &&
	    owner_refused(ctx)) {
		demo->set_owner = false;
		if (demo->log)
			fprintf(demo->log, "demo: the object API refuses owner for this user; records keep the default owner\n");
		json_object_del(values, "owner");
		crm_error_reset(ctx);
		code = object_create_id(ctx, object, values, id);
	}
	json_decref(values);
	if (code != CRM_OK)
		return demo_failed(demo, object, code);
	demo->created[kind]++;
	if (++demo->pending >= DEMO_BATCH) {
		demo->pending = 0;
		if ((code = object_commit(ctx)) != CRM_OK)
			return demo_failed(demo, "commit", code);
		if ((code = object_begin(ctx)) != CRM_OK)
			return demo_failed(demo, "begin", code);
	}
	return CRM_OK;
}

static void set_text(json_t *values, const char *key, const char *text)
{
	json_object_set_new(values, key, json_string(text));
}

static void set_int(json_t *values, const char *key, int64_t number)
{
	json_object_set_new(values, key, json_integer(number));
}

static void set_real(json_t *values, const char *key, double number)
{
	json_object_set_new(values, key, json_real(number));
}

static void set_owner(struct demo *demo, json_t *values, int64_t owner)
{
	if (demo->set_owner && owner > 0)
		set_int(values, "owner", owner);
}

/* The id of the record of object whose field equals value, or 0. */
static int find_existing(struct demo *demo, const char *object, const char *field,
                         const char *value, int64_t *id)
{
	struct strbuf filter = { 0 };
	strbuf_printf(&filter, "%s = '", field);
	for (const char *p = value; *p; p++) {
		if (*p == '\'')
			strbuf_putc(&filter, '\'');
		strbuf_putc(&filter, *p);
	}
	strbuf_putc(&filter, '\'');
	struct object_query query = { .filter = filter.data, .fields = "id", .limit = 1 };
	json_t *page = NULL;
	crm_error_reset(demo->ctx);
	int code = object_query(demo->ctx, object, &query, &page);
	strbuf_free(&filter);
	if (code != CRM_OK)
		return demo_failed(demo, object, code);
	json_t *first = json_array_get(json_object_get(page, "records"), 0);
	*id = first ? json_integer_value(json_object_get(first, "id")) : 0;
	json_decref(page);
	return CRM_OK;
}

/* Sets the demo password of a demo user (Argon2id: ~0.1 s each). */
static int demo_password(struct demo *demo, const char *login)
{
	crm_error_reset(demo->ctx);
	int code = auth_set_password(demo->ctx, login, DEMO_PASSWORD);
	return code == CRM_OK ? CRM_OK : demo_failed(demo, "user", code);
}

/*
 * A demo user found from an earlier run: one made before users had roles
 * (so it could never sign in) gets its role, kind and the demo password.
 * Any other is left alone: its password may have been changed since.
 */
static int demo_sign_in_ready(struct demo *demo, int64_t id, const char *login, const char *role,
                              const char *kind)
{
	json_t *record = NULL;
	crm_error_reset(demo->ctx);
	int code = object_get(demo->ctx, "user", id, false, &record);
	if (code != CRM_OK)
		return demo_failed(demo, "user", code);
	bool has_role = json_string_value(json_object_get(record, "role")) != NULL;
	json_decref(record);
	if (has_role)
		return CRM_OK;
	json_t *changes = json_pack("{s:s, s:s}", "role", role, "kind", kind);
	code = object_update(demo->ctx, "user", id, 0, changes, NULL);
	json_decref(changes);
	if (code != CRM_OK)
		return demo_failed(demo, "user", code);
	return demo_password(demo, login);
}

struct demo_team {
	const char *name;
	const char *description;
	const char *manager;       /* login */
};

static const struct demo_team demo_teams[] = {
	{ "Sales EMEA", "Field and inside sales for Europe, the Middle East and Africa", "sales_manager" },
	{ "Sales Americas", "Field and inside sales for North and Latin America", "sales_manager" },
	{ "Sales APAC", "Sales for Asia Pacific, run from Singapore and Shanghai", "sales_manager" },
	{ "Customer Service", "L1 and L2 support, onboarding and renewals", "service_agent" },
	{ "Marketing", "Campaigns, events and lead generation", "marketing_user" },
	/* the service package's second and third tiers and field service (queues: plugins/service/demo.lua) */
	{ "Technical Support L2", "Second-line technical support: diagnosis, configuration, integrations",
	  "service_manager" },
	{ "Expert Support L3", "Third-line engineering: defects, data repairs, root causes", "service_manager" },
	{ "Field Service", "On-site installation and repair engineers", "service_manager" },
	/* the fieldforce package's two field sales teams, one manager (plugins/fieldforce/demo.lua) */
	{ "Field Sales East", "Field reps visiting accounts in Shanghai and the east", "field_manager" },
	{ "Field Sales North", "Field reps visiting accounts in Beijing and the north", "field_manager" },
};

struct demo_user {
	const char *login;
	const char *name;
	const char *title;
	const char *team;          /* NULL = none */
	const char *manager;       /* login, NULL = none; listed before its reports */
	bool sales;                /* owns accounts and leads */
	const char *role;          /* a role of metadata/roles.yaml */
	const char *kind;          /* employee, partner (consumers: see demo_consumers) */
	const char *domain;        /* e-mail domain, NULL = DEMO_EMAIL_DOMAIN */
};

static const struct demo_user demo_users[] = {
	{ "admin", "Alex Morgan", "CRM Administrator", NULL, NULL, false, "admin", "employee", NULL },
	{ "sales_manager", "María González", "Head of Sales", "Sales EMEA", "admin", true, "sales_manager",
	  "employee", NULL },
	{ "sales_rep1", "Tom Becker", "Account Executive", "Sales EMEA", "sales_manager", true, "sales_rep",
	  "employee", NULL },
	{ "sales_rep2", "Emily Carter", "Account Executive", "Sales Americas", "sales_manager", true, "sales_rep",
	  "employee", NULL },
	{ "sales_rep3", "Wang Fang", "Key Account Manager", "Sales APAC", "sales_manager", true, "sales_rep",
	  "employee", NULL },
	/* roles a package brings (lead2cash): created only where the metadata has the role */
	{ "sales_director", "Daniel Schmidt", "VP Sales", NULL, "admin", false, "sales_director", "employee", NULL },
	{ "finance", "Mei Chen", "Accounts Receivable Lead", NULL, "admin", false, "finance", "employee", NULL },
	{ "service_agent", "Priya Nair", "Customer Success Manager", "Customer Service", "admin", false,
	  "service_agent", "employee", NULL },
	{ "marketing_manager", "Sofia Rossi", "Head of Marketing", "Marketing", "admin", false, "marketing_manager",
	  "employee", NULL },
	{ "marketing_user", "Lucas Martin", "Campaign Manager", "Marketing", "admin", false, "marketing_user",
	  "employee", NULL },
	{ "partner1", "Jonas Weber", "Partner Account Manager", NULL, NULL, false, "partner_user", "partner",
	  "weber-systemhaus.example" },
	{ "partner2", "Chloé Laurent", "Channel Sales Lead", NULL, NULL, false, "partner_user", "partner",
	  "laurent-integration.example" },
	/* the service package's (created only where the metadata has service_manager) */
	{ "service_manager", "Li Na", "Head of Customer Service", "Customer Service", "admin", false, "service_manager",
	  "employee", NULL },
	{ "service_agent2", "Marco Bianchi", "Technical Support Engineer", "Technical Support L2", "service_manager",
	  false, "service_agent", "employee", NULL },
	{ "service_agent3", "Zhang Wei", "Support Engineer L3", "Expert Support L3", "service_manager", false,
	  "service_agent", "employee", NULL },
	/* the channel package's: channel managers approve their partners' deal registrations (plugins/channel/demo.lua) */
	{ "channel_manager", "Sophie Martin", "Channel Manager EMEA", NULL, "admin", false, "channel_manager", "employee",
	  NULL },
	{ "channel_manager2", "Kenji Sato", "Channel Manager Americas and APAC", NULL, "admin", false, "channel_manager",
	  "employee", NULL },
	/* the pharma pack's (--industry pharma): medical affairs sets sample limits and audits drops */
	{ "compliance_officer", "Elisabeth Brandt", "Head of Medical Affairs & Compliance", NULL, "admin", false,
	  "medical_compliance", "employee", NULL },
	/* the membership package's (created only where the metadata has member_service) */
	{ "member_service", "Lin Hui", "Member Care Lead", "Customer Service", "admin", false,
	  "member_service", "employee", NULL },
	/* the fieldforce package's: the rep's day, the manager approves plans (plugins/fieldforce/demo.lua) */
	{ "field_manager", "Chen Jing", "Field Sales Manager", NULL, "admin", false, "field_manager", "employee", NULL },
	{ "field_rep1", "Li Wei", "Field Sales Representative", "Field Sales East", "field_manager", false, "field_rep",
	  "employee", NULL },
	{ "field_rep2", "Zhao Min", "Field Sales Representative", "Field Sales North", "field_manager", false,
	  "field_rep", "employee", NULL },
	/* the automotive pack's (--industry automotive): the brand's lead centre and brand manager, two dealers'
	   users (plugins/automotive/demo.lua ties them to their dealers; consumer1 owns a vehicle) */
	{ "lead_centre", "Hannah Vogel", "Lead Centre Agent", NULL, "admin", false, "lead_centre_agent", "employee", NULL },
	{ "brand_manager", "Zhou Min", "Brand Manager Voltara", NULL, "admin", false, "brand_manager", "employee", NULL },
	{ "dealer1", "Markus Huber", "Sales Consultant, Autohaus Sendling", NULL, NULL, false, "dealer_user", "partner",
	  "autohaus-sendling.example" },
	{ "dealer2", "Liu Yang", "Service Advisor, Shanghai Pudong", NULL, NULL, false, "dealer_user", "partner",
	  "voltara-pudong.example" },
};

/*
 * Consumers sign in to the member portal and see the contact whose e-mail
 * is theirs (role consumer: `email = $user.email`), so they are created
 * after the contacts and take the name and e-mail of one: consumer<n> is
 * the first contact (by id) of the n-th account that has one.
 */
static const char *const demo_consumers[] = { "consumer1", "consumer2" };

static const struct {
	const char *name, *type, *tier, *region, *website;
} demo_partners[] = {
	{ "Weber Systemhaus GmbH", "integrator", "gold", "emea", "https://weber-systemhaus.example" },
	{ "Laurent Intégration SAS", "reseller", "silver", "emea", "https://laurent-integration.example" },
};

/* The channel partners partner1 and partner2 work for (if the metadata has a partner object). */
static int create_partners(struct demo *demo)
{
	if (!meta_find_object(demo->ctx->kernel->meta, "partner"))
		return CRM_OK;
	for (int i = 0; i < COUNT(demo_partners); i++) {
		int code = find_existing(demo, "partner", "name", demo_partners[i].name, &demo->partners[i]);
		if (code != CRM_OK)
			return code;
		if (demo->partners[i])
			continue;
		json_t *values = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "name", demo_partners[i].name,
		                           "type", demo_partners[i].type, "tier", demo_partners[i].tier,
		                           "region", demo_partners[i].region, "website", demo_partners[i].website,
		                           "certified", 1);
		crm_error_reset(demo->ctx);
		code = object_create_id(demo->ctx, "partner", values, &demo->partners[i]);
		json_decref(values);
		if (code != CRM_OK)
			return demo_failed(demo, "partner", code);
	}
	return CRM_OK;
}

static int create_people(struct demo *demo)
{
	int64_t team_ids[COUNT(demo_teams)];
	bool team_created[COUNT(demo_teams)];
	int64_t user_ids[COUNT(demo_users)];
	int code;

	if ((code = create_partners(demo)) != CRM_OK)
		return code;

	for (int i = 0; i < COUNT(demo_teams); i++) {
		if ((code = find_existing(demo, "team", "name", demo_teams[i].name, &team_ids[i])) != CRM_OK)
			return code;
		team_created[i] = team_ids[i] == 0;
		if (!team_created[i])
			continue;
		json_t *values = json_object();
		set_text(values, "name", demo_teams[i].name);
		set_text(values, "description", demo_teams[i].description);
		if ((code = demo_create(demo, DK_TEAM, values, &team_ids[i])) != CRM_OK)
			return code;
	}
	for (int i = 0; i < COUNT(demo_users); i++) {
		const struct demo_user *user = &demo_users[i];
		user_ids[i] = 0;
		if (!meta_find_role(demo->ctx->kernel->meta, user->role))
			continue;
		if ((code = find_existing(demo, "user", "login", user->login, &user_ids[i])) != CRM_OK)
			return code;
		if (user_ids[i] != 0) {
			if ((code = demo_sign_in_ready(demo, user_ids[i], user->login, user->role, user->kind)) != CRM_OK)
				return code;
		} else {
			char email[160], first[64], last[64];
			const char *space = strchr(user->name, ' ');
			snprintf(first, sizeof(first), "%.*s", (int)(space - user->name), user->name);
			snprintf(last, sizeof(last), "%s", space + 1);
			struct person person = { first, last };
			char first_slug[64], last_slug[64];
			ascii_slug(person.first, first_slug, sizeof(first_slug), false);
			ascii_slug(person.last, last_slug, sizeof(last_slug), false);
			snprintf(email, sizeof(email), "%s.%s@%s", first_slug, last_slug,
			         user->domain ? user->domain : DEMO_EMAIL_DOMAIN);
			json_t *values = json_object();
			set_text(values, "login", user->login);
			set_text(values, "name", user->name);
			set_text(values, "email", email);
			set_text(values, "kind", user->kind);
			set_text(values, "role", user->role);
			json_object_set_new(values, "active", json_true());
			set_text(values, "title", user->title);
			/* partner<n> works for the n-th demo partner */
			if (strcmp(user->kind, "partner") == 0 && demo->partners[0])
				set_int(values, "partner", demo->partners[user->login[strlen(user->login) - 1] == '2']);
			char phone[40];
			snprintf(phone, sizeof(phone), "+1 415 555 01%02d", 10 + i);
			set_text(values, "phone", phone);
			for (int t = 0; user->team && t < COUNT(demo_teams); t++)
				if (strcmp(demo_teams[t].name, user->team) == 0)
					set_int(values, "team", team_ids[t]);
			for (int m = 0; user->manager && m < i; m++)
				if (strcmp(demo_users[m].login, user->manager) == 0 && user_ids[m])
					set_int(values, "manager", user_ids[m]);
			if ((code = demo_create(demo, DK_USER, values, &user_ids[i])) != CRM_OK ||
			    (code = demo_password(demo, user->login)) != CRM_OK)
				return code;
		}
		if (strcmp(user->role, "service_agent") == 0 && !demo->service_agent)
			demo->service_agent = user_ids[i];
		else if (strcmp(user->login, "admin") == 0)
			demo->admin = user_ids[i];
		if (user->sales && demo->sales_user_count < COUNT(demo->sales_users))
			demo->sales_users[demo->sales_user_count++] = user_ids[i];
	}
	for (int i = 0; i < COUNT(demo_teams); i++) {
		if (!team_created[i])
			continue;
		for (int u = 0; u < COUNT(demo_users); u++) {
			if (strcmp(demo_users[u].login, demo_teams[i].manager) != 0 || !user_ids[u])
				continue;
			json_t *changes = json_pack("{s:I}", "manager", (json_int_t)user_ids[u]);
			crm_error_reset(demo->ctx);
			code = object_update(demo->ctx, "team", team_ids[i], 0, changes, NULL);
			json_decref(changes);
			if (code != CRM_OK)
				return demo_failed(demo, "team", code);
		}
	}
	return CRM_OK;
}

struct consumer_pick {
	json_t *contacts;          /* the chosen contacts */
	int64_t last_account;
};

static int pick_contact(void *arg, json_t *contact)
{
	struct consumer_pick *pick = arg;
	int64_t account = json_integer_value(json_object_get(contact, "account"));
	if (account == pick->last_account)
		return 0;
	pick->last_account = account;
	json_array_append(pick->contacts, contact);
	return (int)json_array_size(pick->contacts) >= COUNT(demo_consumers) ? -1 : 0;   /* -1: enough */
}

/* The consumer users, unless they exist: see demo_consumers. */
static int create_consumers(struct demo *demo)
{
	struct consumer_pick pick = { json_array(), -1 };
	struct object_query query = { .filter = "email != null", .fields = "id,first_name,last_name,email,account",
	                              .sort = "id" };
	crm_error_reset(demo->ctx);
	int code = object_query_each(demo->ctx, "contact", &query, pick_contact, &pick);
	if (code != CRM_OK && code != -1) {
		json_decref(pick.contacts);
		return demo_failed(demo, "contact", code);
	}
	code = CRM_OK;
	for (int i = 0; i < COUNT(demo_consumers) && code == CRM_OK; i++) {
		int64_t id;
		if ((code = find_existing(demo, "user", "login", demo_consumers[i], &id)) != CRM_OK)
			break;
		if (id != 0) {
			code = demo_sign_in_ready(demo, id, demo_consumers[i], "consumer", "consumer");
			continue;
		}
		json_t *contact = json_array_get(pick.contacts, (size_t)i);
		char name[200], email[160];
		if (contact) {
			snprintf(name, sizeof(name), "%s %s", json_string_value(json_object_get(contact, "first_name")),
			         json_string_value(json_object_get(contact, "last_name")));
			snprintf(email, sizeof(email), "%s", json_string_value(json_object_get(contact, "email")));
		} else {   /* no contacts (a run with no records): a consumer with nothing to see yet */
			snprintf(name, sizeof(name), "Demo Consumer %d", i + 1);
			snprintf(email, sizeof(email), "%s@members." DEMO_EMAIL_DOMAIN, demo_consumers[i]);
		}
		json_t *values = json_object();
		set_text(values, "login", demo_consumers[i]);
		set_text(values, "name", name);
		set_text(values, "email", email);
		set_text(values, "kind", "consumer");
		set_text(values, "role", "consumer");
		json_object_set_new(values, "active", json_true());
		/* tied to their contact by reference where the user object has one (contact = $user.contact) */
		const struct meta_object *users = meta_find_object(demo->ctx->kernel->meta, "user");
		if (contact && users && meta_find_field(users, "contact"))
			json_object_set(values, "contact", json_object_get(contact, "id"));
		if ((code = demo_create(demo, DK_USER, values, NULL)) == CRM_OK)
			code = demo_password(demo, demo_consumers[i]);
	}
	json_decref(pick.contacts);
	return code;
}

/* The demo logins, for the end of the run's log. */
static void print_logins(FILE *log, const struct meta *meta)
{
	fprintf(log, "demo: users (every password is %s):\n", DEMO_PASSWORD);
	for (int i = 0; i < COUNT(demo_users); i++)
		if (meta_find_role(meta, demo_users[i].role))
			fprintf(log, "  %-16s %-16s %s\n", demo_users[i].login, demo_users[i].role, demo_users[i].kind);
	for (int i = 0; i < COUNT(demo_consumers); i++)
		fprintf(log, "  %-16s %-16s %s\n", demo_consumers[i], "consumer", "consumer");
}

/* A sales user other than owner (for sales engineers), or owner if there is only one. */
static int64_t other_sales_user(struct demo *demo, int64_t owner)
{
	if (demo->sales_user_count == 0)
		return 0;
	int64_t pick = demo->sales_users[rng_int(&demo->rng, 0, demo->sales_user_count - 1)];
	return pick == owner ? demo->sales_users[0] : pick;
}

static const char *const departments[][2] = {
	{ "Executive", "Chief Executive Officer" }, { "Executive", "Managing Director" },
	{ "Finance", "Chief Financial Officer" }, { "Finance", "Head of Procurement" },
	{ "Finance", "Procurement Manager" }, { "IT", "Chief Information Officer" },
	{ "IT", "IT Director" }, { "IT", "Head of Infrastructure" }, { "IT", "Solutions Architect" },
	{ "Operations", "Chief Operating Officer" }, { "Operations", "Operations Manager" },
	{ "Sales", "VP Sales" }, { "Sales", "Sales Operations Manager" },
	{ "Marketing", "Chief Marketing Officer" }, { "Marketing", "Marketing Manager" },
	{ "Customer Service", "Head of Customer Service" }, { "HR", "HR Director" },
	{ "Legal", "General Counsel" },
};
static const char *const lead_sources[] = { "web", "referral", "event", "campaign", "cold_call", "partner" };
static const char *const contact_tags[] = {
	"decision_maker", "economic_buyer", "champion", "influencer", "technical", "end_user", "newsletter",
};

struct account_info {
	int64_t id;
	int64_t owner;
	int64_t partner;           /* every 7th account is a partner's, with its opportunities */
	struct company company;
	double revenue;
	int64_t contact_ids[4];
	char contact_names[4][96];
	int contact_count;
	int64_t opportunity_ids[3];
	char opportunity_names[3][200];
	int opportunity_count;
};

static int create_account(struct demo *demo, struct account_info *account, int index)
{
	struct rng *rng = &demo->rng;
	struct company *company = &account->company;
	random_company(rng, company);
	account->owner = demo->sales_user_count ? demo->sales_users[index % demo->sales_user_count] : 0;
	/* deterministic and outside the random stream, so other data stays the same */
	account->partner = index % 7 == 0 && demo->partners[0] ? demo->partners[(index / 7) % 2] : 0;

	double revenue = exp(15.8 + 1.6 * rng_normal(rng));  /* median ~7M */
	if (revenue < 150000)
		revenue = 150000 + rng_int(rng, 0, 100) * 1000.0;
	if (revenue > 5e10)
		revenue = 5e10;
	revenue = round(revenue / 1000.0) * 1000.0;
	account->revenue = revenue;
	int64_t employees = (int64_t)(revenue / (90000.0 + rng_unit(rng) * 260000.0));
	if (employees < 2)
		employees = 2 + rng_int(rng, 0, 8);

	static const int type_weights[] = { 40, 45, 10, 5 };
	static const char *const types[] = { "prospect", "customer", "partner", "competitor" };
	static const int rating_weights[] = { 20, 45, 35 };
	static const char *const ratings[] = { "hot", "warm", "cold" };
	char text[512];
	json_t *values = json_object();
	set_text(values, "name", company->name);
	set_text(values, "industry", industries[company->industry].value);
	set_text(values, "type", types[rng_weighted(rng, type_weights, COUNT(type_weights))]);
	set_real(values, "annual_revenue", revenue);
	set_int(values, "employees", employees);
	random_phone(rng, company->country, company->city, false, text, sizeof(text));
	set_text(values, "phone", text);
	snprintf(text, sizeof(text), "https://www.%s", company->domain);
	set_text(values, "website", text);
	snprintf(text, sizeof(text), "%s@%s", rng_chance(rng, 0.5) ? "info" : "contact", company->domain);
	set_text(values, "email", text);
	set_text(values, "billing_city", company->city->name);
	set_text(values, "billing_country", company->country->name);
	set_text(values, "region", company->country->region);
	set_text(values, "rating", ratings[rng_weighted(rng, rating_weights, COUNT(rating_weights))]);
	if (demo->account_count > 20 && rng_chance(rng, 0.05))
		set_int(values, "parent", demo->account_ids[rng_int(rng, 0, demo->account_count - 1)]);
	json_object_set_new(values, "location", json_pack("{s:f, s:f}",
		"lat", round((company->city->lat + (rng_unit(rng) - 0.5) * 0.1) * 1e5) / 1e5,
		"lng", round((company->city->lng + (rng_unit(rng) - 0.5) * 0.1) * 1e5) / 1e5));
	const char *size = employees < 50 ? "small" : employees < 1000 ? "mid-sized" :
	                   employees < 20000 ? "large" : "global";
	int len = snprintf(text, sizeof(text), "%s is a %s %s company based in %s, %s.",
	                   company->short_name, size, industries[company->industry].noun,
	                   company->city->name, company->country->name);
	if (company->zh_name[0] && len > 0 && (size_t)len < sizeof(text))
		snprintf(text + len, sizeof(text) - (size_t)len, " 中文名称：%s", company->zh_name);
	set_text(values, "description", text);
	set_owner(demo, values, account->owner);
	if (account->partner)
		set_int(values, "partner", account->partner);
	int code = demo_create(demo, DK_ACCOUNT, values, &account->id);
	if (code == CRM_OK)
		demo->account_ids[demo->account_count++] = account->id;
	return code;
}

static int create_contacts(struct demo *demo, struct account_info *account)
{
	struct rng *rng = &demo->rng;
	const struct company *company = &account->company;
	int count = rng_int(rng, 2, 4);
	account->contact_count = 0;
	for (int i = 0; i < count; i++) {
		enum culture culture = rng_chance(rng, 0.8) ? company->country->culture
		                                            : (enum culture)rng_int(rng, 0, CULTURE_COUNT - 1);
		struct person person = random_person(rng, culture);
		const char *const *role = departments[rng_int(rng, 0, COUNT(departments) - 1)];
		char text[160];
		json_t *values = json_object();
		set_text(values, "first_name", person.first);
		set_text(values, "last_name", person.last);
		set_int(values, "account", account->id);
		person_email(rng, person, company->domain, text, sizeof(text));
		set_text(values, "email", text);
		random_phone(rng, company->country, company->city, false, text, sizeof(text));
		set_text(values, "phone", text);
		if (rng_chance(rng, 0.7)) {
			random_phone(rng, company->country, company->city, true, text, sizeof(text));
			set_text(values, "mobile", text);
		}
		set_text(values, "title", role[1]);
		set_text(values, "department", role[0]);
		if (rng_chance(rng, 0.6)) {
			int64_t day = days_from_civil(rng_int(rng, 1960, 2001), rng_int(rng, 1, 12), rng_int(rng, 1, 28));
			format_date(text, sizeof(text), day);
			set_text(values, "birthdate", text);
		}
		json_object_set_new(values, "do_not_call", json_boolean(rng_chance(rng, 0.05)));
		if (rng_chance(rng, 0.7))
			set_text(values, "lead_source", PICK(rng, lead_sources));
		json_t *tags = json_array();
		if (i == 0)
			json_array_append_new(tags, json_string("decision_maker"));
		int extra = rng_int(rng, 0, 2);
		for (int t = 0; t < extra; t++) {
			const char *tag = PICK(rng, contact_tags);
			bool seen = false;
			for (size_t k = 0; k < json_array_size(tags); k++)
				seen = seen || strcmp(json_string_value(json_array_get(tags, k)), tag) == 0;
			if (!seen)
				json_array_append_new(tags, json_string(tag));
		}
		if (json_array_size(tags) > 0)
			json_object_set_new(values, "tags", tags);
		else
			json_decref(tags);
		set_text(values, "mailing_city", company->city->name);
		set_text(values, "mailing_country", company->country->name);
		set_owner(demo, values, account->owner);
		int64_t id;
		int code = demo_create(demo, DK_CONTACT, values, &id);
		if (code != CRM_OK)
			return code;
		account->contact_ids[account->contact_count] = id;
		snprintf(account->contact_names[account->contact_count], sizeof(account->contact_names[0]),
		         "%s %s", person.first, person.last);
		account->contact_count++;
	}
	return CRM_OK;
}

static const char *const stages[] = { "prospecting", "qualification", "proposal", "negotiation", "won", "lost" };
static const int stage_probability[] = { 10, 20, 50, 75, 100, 0 };
static const int past_stage_weights[] = { 0, 5, 7, 8, 45, 35 };     /* mostly closed */
static const int future_stage_weights[] = { 25, 25, 22, 15, 8, 5 };  /* mostly open */
static const char *const next_steps[] = {
	"Schedule discovery call", "Send proposal", "Technical demo with IT",
	"Negotiate terms with procurement", "Await legal review of the contract",
	"Executive sponsor meeting", "Prepare ROI analysis", "Reference call with a customer",
};
static const char *const products[] = {
	"Platform subscription", "Implementation services", "Premium support plan", "Analytics add-on",
	"Data migration", "Training package", "Integration services",
};

static int create_opportunities(struct demo *demo, struct account_info *account)
{
	struct rng *rng = &demo->rng;
	int count = rng_int(rng, 1, 3);
	account->opportunity_count = 0;
	for (int i = 0; i < count; i++) {
		static const int type_weights[] = { 50, 25, 25 };
		static const char *const types[] = { "new_business", "existing_business", "renewal" };
		int type = rng_weighted(rng, type_weights, COUNT(type_weights));
		char name[200], text[400];
		double amount;
		if (rng_chance(rng, 0.6)) {
			/* seats: bigger companies buy more */
			double scale = log10(account->revenue > 1e6 ? account->revenue / 1e6 : 1.0) + 1.0;
			int seats = (int)(exp(2.3 + 0.9 * rng_normal(rng)) * scale);
			if (seats < 5)
				seats = 5;
			seats = seats < 100 ? (seats + 4) / 5 * 5 : (seats + 49) / 50 * 50;
			amount = seats * (double)rng_int(rng, 48, 150) * 10.0;
			snprintf(name, sizeof(name), "%s - %d seats%s", account->company.short_name, seats,
			         type == 2 ? " renewal" : type == 1 ? " expansion" : "");
		} else {
			const char *product = PICK(rng, products);
			amount = round(exp(10.3 + 0.9 * rng_normal(rng)) / 100.0) * 100.0;
			if (amount < 2000)
				amount = 2000;
			snprintf(name, sizeof(name), "%s - %s%s", account->company.short_name, product,
			         type == 2 ? " renewal" : "");
		}
		int close_offset = rng_int(rng, -365, 182);
		const int *weights = close_offset < 0 ? past_stage_weights : future_stage_weights;
		int stage = rng_weighted(rng, weights, COUNT(stages));

		json_t *values = json_object();
		set_text(values, "name", name);
		set_int(values, "account", account->id);
		set_real(values, "amount", amount);
		if (rng_chance(rng, 0.3))
			set_real(values, "discount", rng_int(rng, 1, 5) * 5.0);
		set_text(values, "stage", stages[stage]);
		set_real(values, "probability", stage_probability[stage]);
		format_date(text, sizeof(text), demo->base_day + close_offset);
		set_text(values, "close_date", text);
		if (rng_chance(rng, 0.3))
			set_int(values, "sales_engineer", other_sales_user(demo, account->owner));
		set_text(values, "type", types[type]);
		if (rng_chance(rng, 0.7))
			set_text(values, "lead_source", PICK(rng, lead_sources));
		if (account->partner)
			set_int(values, "partner", account->partner);
		if (stage < 4)
			set_text(values, "next_step", PICK(rng, next_steps));
		if (rng_chance(rng, 0.4)) {
			snprintf(text, sizeof(text), "%s opportunity with %s; main contact %s.",
			         type == 2 ? "Renewal" : type == 1 ? "Upsell" : "New business",
			         account->company.short_name,
			         account->contact_count ? account->contact_names[0] : "not yet known");
			set_text(values, "description", text);
		}
		set_owner(demo, values, account->owner);
		int64_t id;
		int code = demo_create(demo, DK_OPPORTUNITY, values, &id);
		if (code != CRM_OK)
			return code;
		account->opportunity_ids[account->opportunity_count] = id;
		snprintf(account->opportunity_names[account->opportunity_count],
		         sizeof(account->opportunity_names[0]), "%s", name);
		account->opportunity_count++;
	}
	return CRM_OK;
}

static int create_activities(struct demo *demo, struct account_info *account)
{
	struct rng *rng = &demo->rng;
	int count = rng_int(rng, 1, 3);
	for (int i = 0; i < count; i++) {
		static const int kind_weights[] = { 30, 30, 25, 15 };
		static const char *const kinds[] = { "task", "call", "meeting", "note" };
		int kind = rng_weighted(rng, kind_weights, COUNT(kind_weights));
		int contact = account->contact_count ? rng_int(rng, 0, account->contact_count - 1) : -1;
		const char *who = contact >= 0 ? account->contact_names[contact] : "the customer";
		int opportunity = account->opportunity_count && rng_chance(rng, 0.4)
		                  ? rng_int(rng, 0, account->opportunity_count - 1) : -1;
		char subject[200], text[200];
		switch (kind) {
		case 0: {
			static const char *const tasks[] = {
				"Send proposal to %s", "Prepare quote for %s", "Send contract to %s for signature",
				"Follow up with %s on open questions", "Update pricing sheet for %s",
			};
			snprintf(subject, sizeof(subject), PICK(rng, tasks), who);
			break;
		}
		case 1: {
			static const char *const calls[] = {
				"Call with %s", "Discovery call with %s", "Follow-up call with %s", "Check-in call with %s",
			};
			snprintf(subject, sizeof(subject), PICK(rng, calls), who);
			break;
		}
		case 2: {
			static const char *const meetings[] = {
				"Quarterly business review", "Product demo", "On-site visit", "Contract negotiation",
				"Kick-off workshop",
			};
			snprintf(subject, sizeof(subject), "%s - %s", PICK(rng, meetings), account->company.short_name);
			break;
		}
		default: {
			static const char *const notes[] = {
				"Budget confirmed for next fiscal year", "Customer prefers annual billing",
				"Met at trade fair, interested in analytics", "Competitor evaluation under way",
				"New IT director starts next quarter",
			};
			snprintf(subject, sizeof(subject), "%s", PICK(rng, notes));
			break;
		}
		}
		int day_offset = rng_int(rng, -120, 60);
		const char *status;
		if (kind == 3)
			status = "done";
		else if (day_offset < 0)
			status = rng_chance(rng, 0.8) ? "done" : rng_chance(rng, 0.5) ? "cancelled" : "open";
		else
			status = rng_chance(rng, 0.95) ? "open" : "cancelled";
		static const int priority_weights[] = { 20, 60, 20 };
		static const char *const priorities[] = { "low", "normal", "high" };

		json_t *values = json_object();
		set_text(values, "kind", kinds[kind]);
		set_text(values, "subject", subject);
		format_datetime(text, sizeof(text), demo->base_day + day_offset, rng_int(rng, 7, 17),
		                rng_int(rng, 0, 3) * 15);
		set_text(values, "due_at", text);
		set_text(values, "status", status);
		set_text(values, "priority", priorities[rng_weighted(rng, priority_weights, 3)]);
		set_int(values, "account", account->id);
		if (contact >= 0)
			set_int(values, "contact", account->contact_ids[contact]);
		if (opportunity >= 0)
			set_int(values, "opportunity", account->opportunity_ids[opportunity]);
		if (kind == 1)
			set_int(values, "duration_minutes", rng_int(rng, 1, 12) * 5);
		else if (kind == 2)
			set_int(values, "duration_minutes", rng_int(rng, 1, 8) * 15);
		if (opportunity >= 0) {
			snprintf(text, sizeof(text), "About: %s", account->opportunity_names[opportunity]);
			set_text(values, "description", text);
		}
		set_owner(demo, values, account->owner);
		int code = demo_create(demo, DK_ACTIVITY, values, NULL);
		if (code != CRM_OK)
			return code;
	}
	return CRM_OK;
}

static const char *const lead_titles[] = {
	"IT Manager", "Head of Sales", "Operations Director", "Procurement Specialist", "CEO",
	"Marketing Director", "Project Manager", "CFO", "Business Analyst", "Customer Service Lead",
};
static const char *const lead_notes[] = {
	"Downloaded the pricing guide", "Asked for a demo at the trade fair",
	"Referred by an existing customer", "Replied to the spring newsletter",
	"Evaluating three vendors, decision next quarter", "Needs integration with their ERP",
};

#define DEMO_OPEN_LEADS 15

static int create_lead(struct demo *demo, int index)
{
	struct rng *rng = &demo->rng;
	struct company company;
	random_company(rng, &company);
	struct person person = random_person(rng, company.country->culture);
	static const int status_weights[] = { 35, 30, 20, 15 };
	static const char *const statuses[] = { "new", "working", "qualified", "disqualified" };
	static const int source_weights[] = { 35, 15, 15, 20, 10, 5 };
	static const int rating_weights[] = { 20, 45, 35 };
	static const char *const ratings[] = { "hot", "warm", "cold" };
	int status = rng_weighted(rng, status_weights, COUNT(status_weights));
	char text[200];

	json_t *values = json_object();
	set_text(values, "first_name", person.first);
	set_text(values, "last_name", person.last);
	set_text(values, "company", company.name);
	set_text(values, "title", PICK(rng, lead_titles));
	person_email(rng, person, company.domain, text, sizeof(text));
	set_text(values, "email", text);
	if (rng_chance(rng, 0.7)) {
		random_phone(rng, company.country, company.city, rng_chance(rng, 0.5), text, sizeof(text));
		set_text(values, "phone", text);
	}
	set_text(values, "city", company.city->name);
	set_text(values, "country", company.country->name);
	set_text(values, "status", statuses[status]);
	set_text(values, "source", lead_sources[rng_weighted(rng, source_weights, COUNT(source_weights))]);
	if (rng_chance(rng, 0.7))
		set_text(values, "rating", ratings[rng_weighted(rng, rating_weights, COUNT(rating_weights))]);
	set_text(values, "industry", industries[company.industry].value);
	if (rng_chance(rng, 0.6))
		set_real(values, "estimated_value", round(exp(10.0 + 1.0 * rng_normal(rng)) / 100.0) * 100.0);
	if (rng_chance(rng, 0.3))
		set_text(values, "note", PICK(rng, lead_notes));
	/*
	 * New leads are often still in the public pool (no owner). A salesperson holds at most
	 * DEMO_OPEN_LEADS open leads, under the sales plugin's claim_limit (20), so that every demo
	 * rep can claim from the pool; the rest of the open leads wait there.
	 */
	if (demo->sales_user_count && !(status == 0 && rng_chance(rng, 0.4))) {
		int slot = index % demo->sales_user_count;
		bool open = status == 0 || status == 1;
		if (open && demo->open_leads[slot] >= DEMO_OPEN_LEADS) {
			set_text(values, "status", "new");
		} else {
			set_owner(demo, values, demo->sales_users[slot]);
			demo->open_leads[slot] += open;
		}
	}
	return demo_create(demo, DK_LEAD, values, NULL);
}

/* ---- cases and vehicles (their own random stream: demo->extra_rng) ------ */

enum case_kind { CASE_PRODUCT, CASE_BILLING, CASE_OUTAGE, CASE_HOWTO, CASE_KIND_COUNT };

struct case_template {
	enum case_kind kind;
	const char *subject;
	const char *description;
	const char *resolution;    /* for resolved and closed cases */
};

static const struct case_template english_cases[] = {
	{ CASE_PRODUCT, "Report export times out for large date ranges",
	  "Exporting the pipeline report for the full fiscal year stops after about 30 seconds with a timeout. "
	  "Exports of a single quarter work. Finance needs the full-year file for the board pack on Friday.",
	  "Large exports now run as a background job and arrive as a download link by e-mail. The customer "
	  "exported the full fiscal year (about 80,000 rows) successfully." },
	{ CASE_PRODUCT, "Duplicate contacts created by the Outlook add-in",
	  "Since the add-in update last week, every e-mail we log creates a new contact, even when the address "
	  "already exists. We now have hundreds of duplicates.",
	  "The add-in compared e-mail addresses case-sensitively. Fixed in add-in 4.2.1; 312 duplicates merged "
	  "with the customer's approval." },
	{ CASE_PRODUCT, "Dashboard charts stay empty after the upgrade",
	  "After this weekend's upgrade the sales dashboard shows empty charts for every user. The list views "
	  "still show the data.",
	  "Browsers kept the previous version's scripts in their cache. A forced reload brought the charts back; "
	  "the customer's IT cleared the caches through their device policy." },
	{ CASE_PRODUCT, "Mobile app crashes when attaching a photo",
	  "Field staff report that the Android app closes as soon as they attach a photo to a visit report. It "
	  "started with the last app update.",
	  "A camera permission change in Android 14 caused the crash. Fixed in app version 3.8.2; the customer "
	  "confirmed after updating." },
	{ CASE_PRODUCT, "Search does not find accounts with accented names",
	  "Searching for \"Societe Generale\" does not find \"Société Générale\"; users have to guess the exact "
	  "spelling of a name.",
	  "Accent-insensitive search enabled for account names; both spellings now find the account." },
	{ CASE_BILLING, "Invoice lists more seats than we have",
	  "Our latest invoice charges for 120 seats, but we reduced the subscription to 95 seats at the renewal. "
	  "Please correct the invoice before our next payment run.",
	  "Seat count corrected to 95 in the billing system; a credit note for 25 seats was issued and the "
	  "corrected invoice sent to accounts payable." },
	{ CASE_BILLING, "Charged twice for the annual renewal",
	  "Our credit card was charged twice for the annual renewal on the same day. Please refund the duplicate "
	  "payment.",
	  "The payment provider retried after a timeout and both charges went through. The duplicate was "
	  "refunded; it shows on the card within 5 to 10 business days." },
	{ CASE_BILLING, "VAT number missing on our invoices",
	  "Our invoices do not show our VAT registration number, so finance cannot reclaim the input tax. Please "
	  "reissue this year's invoices with the VAT number.",
	  "VAT number added to the billing profile; this year's invoices were reissued to the billing contact." },
	{ CASE_BILLING, "Please update our billing contact and address",
	  "Our finance team has moved to a new office. Please send invoices to the new accounts payable mailbox "
	  "and update the billing address.",
	  "Billing contact and address updated; the next invoice goes to the new mailbox, as confirmed with the "
	  "customer." },
	{ CASE_OUTAGE, "Users cannot log in since this morning",
	  "Since about 8:30 none of our users can sign in; the login page says the session has expired. Our "
	  "sales team cannot work.",
	  "An expired certificate on the single sign-on connection broke the logins. The certificate was renewed "
	  "and sign-in restored at 10:05; certificate expiry is now monitored." },
	{ CASE_OUTAGE, "API returns 503 errors intermittently",
	  "Since yesterday evening our ERP integration gets HTTP 503 on about one API call in ten. Orders are "
	  "piling up in the retry queue.",
	  "A faulty node in the load balancer pool answered 503. It was taken out of rotation and the "
	  "integration's retry queue drained within an hour." },
	{ CASE_OUTAGE, "E-mail notifications delayed by several hours",
	  "Approval notifications arrive two to three hours late, so discounts wait far too long for sign-off.",
	  "The outbound mail queue backed up after an incident at the mail provider. The queue was flushed; "
	  "notifications arrive within a minute again." },
	{ CASE_OUTAGE, "Order sync with SAP has stopped",
	  "No orders from SAP have arrived in the CRM since last night. The interface log shows authentication "
	  "errors.",
	  "The customer's IT had changed the interface user's password. With the new credentials the sync "
	  "resumed and the missed orders were replayed." },
	{ CASE_HOWTO, "How do we set up single sign-on with Azure AD?",
	  "Our security policy requires every SaaS tool to sign in through Azure AD. Which settings do we need "
	  "on both sides?",
	  "Sent the SAML set-up guide and walked the customer's IT through the configuration in a call; single "
	  "sign-on is live for all users." },
	{ CASE_HOWTO, "How to import contacts from a spreadsheet",
	  "We have about 2,000 contacts from a trade fair in Excel. How can we import them and link them to the "
	  "existing accounts?",
	  "Explained the CSV import: save as CSV (UTF-8), match accounts by name, review the report of rejected "
	  "rows. 1,964 contacts imported; 36 rows had no e-mail address." },
	{ CASE_HOWTO, "Can partners see only their own deals?",
	  "We want our resellers to sign in and see the opportunities they registered, and nothing else. Is "
	  "that possible?",
	  "Yes: users with the partner role see only their partner's accounts, deals and leads. Set up two "
	  "partner users with the customer as a test." },
	{ CASE_HOWTO, "Training for new sales team members",
	  "Five new account executives start next month. Can you run an onboarding session on pipeline "
	  "management and the mobile app?",
	  "Held a two-hour remote training for the five new account executives; the recording and slides were "
	  "shared afterwards." },
	{ CASE_HOWTO, "How to add a stage to the sales pipeline",
	  "We would like a \"Technical validation\" stage between qualification and proposal. Can we add it "
	  "ourselves?",
	  "Pipeline stages are set by the administrator in the metadata; walked the customer's admin through "
	  "adding the stage and moving the open deals." },
};

/* For customers in mainland China (accounts with a Chinese name). */
static const struct case_template chinese_cases[] = {
	{ CASE_PRODUCT, "大数据量报表导出超时",
	  "导出全年销售管道报表时，约30秒后提示超时，按季度导出正常。财务周五前需要全年数据用于董事会材料。",
	  "大批量导出已改为后台任务，完成后以邮件发送下载链接。客户已成功导出全年约8万行数据。" },
	{ CASE_PRODUCT, "移动端上传拜访照片失败",
	  "销售在手机App中上传拜访照片时一直转圈，最后提示上传失败，Wi-Fi和4G网络下都一样。",
	  "安卓新版本的权限变更导致上传失败，已在3.8.2版本修复，客户更新后确认正常。" },
	{ CASE_PRODUCT, "按客户简称搜索不到客户",
	  "按客户简称搜索时找不到对应客户，必须输入完整的公司名称才能找到，影响销售效率。",
	  "已为客户名称开启分词搜索，简称和全称都能检索到客户。" },
	{ CASE_BILLING, "发票席位数量有误",
	  "本期发票按120个席位收费，但续约时我们已调整为95个席位，请在付款前更正发票。",
	  "计费系统中的席位数已更正为95个，已开具红字发票并重新开具增值税专用发票。" },
	{ CASE_BILLING, "申请开具增值税专用发票",
	  "我司需要增值税专用发票用于进项抵扣，请按新的开票信息重新开具本年度发票。",
	  "已更新开票信息并重新开具本年度增值税专用发票，快递单号已发给财务联系人。" },
	{ CASE_OUTAGE, "今天上午起无法登录系统",
	  "从今天上午9点左右开始，所有用户登录时都提示会话已过期，销售团队无法跟进客户。",
	  "单点登录证书过期导致登录失败，已于10:05更换证书并恢复服务，并增加了证书到期监控。" },
	{ CASE_OUTAGE, "企业微信消息通知延迟",
	  "商机审批的企业微信通知经常延迟两三个小时才收到，折扣审批因此被耽误。",
	  "消息推送队列积压导致延迟，已扩容推送服务，通知恢复到一分钟内送达。" },
	{ CASE_OUTAGE, "与ERP的订单同步中断",
	  "自昨晚起，金蝶ERP中的新订单没有同步到CRM，接口日志显示认证失败。",
	  "客户IT更换了接口账号的密码，更新凭据后同步恢复，遗漏的订单已补传。" },
	{ CASE_HOWTO, "如何批量导入联系人",
	  "我们有约两千条展会收集的联系人在Excel中，请问如何批量导入并关联到已有客户？",
	  "已发送导入模板和操作说明：另存为UTF-8编码的CSV，按客户名称匹配后导入。客户已成功导入1964条联系人。" },
	{ CASE_HOWTO, "申请新员工系统培训",
	  "下个月有五名新销售入职，希望安排一次关于商机管理和移动端使用的培训。",
	  "已为五名新员工完成两小时远程培训，培训录像和课件已发送给客户。" },
	{ CASE_HOWTO, "如何配置单点登录",
	  "集团IT要求所有系统接入统一身份认证，请提供单点登录（SAML）的配置说明。",
	  "已提供SAML配置文档，并协助客户IT完成联调，单点登录已上线。" },
};

/* Per kind: priority weights (low, normal, high) and the share of cases at tier L2. */
static const int case_priority_weights[CASE_KIND_COUNT][3] = {
	[CASE_PRODUCT] = { 15, 55, 30 }, [CASE_BILLING] = { 30, 60, 10 },
	[CASE_OUTAGE] = { 0, 25, 75 }, [CASE_HOWTO] = { 55, 40, 5 },
};
static const double case_l2_share[CASE_KIND_COUNT] = {
	[CASE_PRODUCT] = 0.3, [CASE_BILLING] = 0.1, [CASE_OUTAGE] = 0.6, [CASE_HOWTO] = 0.05,
};

static const char *const case_states[] = { "new", "open", "resolved", "closed" };

/* Only the fields the object has (the demo runs over other metadata too). */
static void set_if_field(const struct meta_object *object, json_t *values, const char *key, const char *text)
{
	if (meta_find_field(object, key))
		set_text(values, key, text);
}

/*
 * One support case for account, opened within the past year (more of them
 * recently, as support queues go). Its state comes from its age: recent
 * cases are new or open, older ones mostly resolved or closed; the system
 * sets the state directly, as it does the stages of the demo's deals
 * (history as it was, not replayed through transitions). The first four
 * cases of a run take each state once, so that every board column has a
 * card. Most cases are the service agent's; billing questions often go to
 * the account's owner, set-up questions to the administrator.
 */
static int create_case(struct demo *demo, const struct account_info *account)
{
	struct rng *rng = &demo->extra_rng;
	const struct meta_object *object = demo->cases;
	bool chinese = account->company.zh_name[0] && account->company.city->zh && rng_chance(rng, 0.85);
	const struct case_template *template = chinese ? &PICK(rng, chinese_cases) : &PICK(rng, english_cases);
	int age, state;   /* days before the base date; index into case_states */
	if (demo->case_count < COUNT(case_states)) {
		static const int first_ages[][2] = { { 0, 1 }, { 2, 9 }, { 5, 20 }, { 30, 200 } };
		state = demo->case_count;
		age = rng_int(rng, first_ages[state][0], first_ages[state][1]);
	} else {
		static const int days[] = { 55, 40, 5, 0 }, weeks[] = { 5, 45, 35, 15 }, months[] = { 0, 12, 28, 60 },
		                 older[] = { 0, 2, 10, 88 };
		double u = rng_unit(rng);
		age = (int)(u * u * 365.0);
		state = rng_weighted(rng, age < 3 ? days : age < 30 ? weeks : age < 90 ? months : older, COUNT(case_states));
	}
	int priority = rng_weighted(rng, case_priority_weights[template->kind], 3);
	bool l2 = rng_chance(rng, state == 0 ? case_l2_share[template->kind] / 2 : case_l2_share[template->kind]);
	int64_t owner = demo->service_agent;
	if (template->kind == CASE_BILLING && rng_chance(rng, 0.5))
		owner = account->owner;
	else if (rng_chance(rng, template->kind == CASE_HOWTO ? 0.25 : 0.1) && demo->admin)
		owner = demo->admin;
	int contact = account->contact_count ? rng_int(rng, 0, account->contact_count - 1) : -1;
	static const char *const channels[] = { "by phone", "by e-mail", "through the customer portal", "in the chat" };
	static const char *const zh_channels[] = { "电话", "邮件", "客户门户", "企业微信" };
	int channel = rng_int(rng, 0, COUNT(channels) - 1);
	char text[1024], when[32];
	static const char *const priorities[] = { "low", "normal", "high" };

	json_t *values = json_object();
	set_text(values, "subject", template->subject);
	if (chinese)
		snprintf(text, sizeof(text), "%s\n\n报告渠道：%s", template->description, zh_channels[channel]);
	else if (contact >= 0)
		snprintf(text, sizeof(text), "%s\n\nReported by %s %s.", template->description,
		         account->contact_names[contact], channels[channel]);
	else
		snprintf(text, sizeof(text), "%s\n\nReported %s.", template->description, channels[channel]);
	set_if_field(object, values, "description", text);
	set_if_field(object, values, "status", case_states[state]);
	set_if_field(object, values, "priority", priorities[priority]);
	set_if_field(object, values, "tier", l2 ? "l2" : "l1");
	if (state >= 2)
		set_if_field(object, values, "resolution", template->resolution);
	format_datetime(when, sizeof(when), demo->base_day - age, rng_int(rng, 6, 19), rng_int(rng, 0, 59));
	set_if_field(object, values, "opened_at", when);
	if (meta_find_field(object, "account"))
		set_int(values, "account", account->id);
	if (contact >= 0 && meta_find_field(object, "contact"))
		set_int(values, "contact", account->contact_ids[contact]);
	set_owner(demo, values, owner ? owner : account->owner);
	int code = demo_create(demo, DK_CASE, values, NULL);
	if (code == CRM_OK)
		demo->case_count++;
	return code;
}

struct vehicle_model {
	const char *make, *model;
	const char *wmi;           /* world manufacturer identifier: VIN positions 1-3 */
	const char *vds;           /* positions 4-8; position 7 a letter: model years from 2010 */
	bool china;                /* for accounts in China */
};

static const struct vehicle_model vehicle_models[] = {
	{ "Toyota", "Corolla", "JTD", "BR3EE", false }, { "Toyota", "Hilux", "MR0", "HA3CD", false },
	{ "Ford", "Transit", "1FT", "BR1CG", false }, { "Ford", "F-150", "1FT", "EW1EP", false },
	{ "Volkswagen", "Golf", "WVW", "ZZZAU", false }, { "Volkswagen", "Crafter", "WV1", "ZZZSY", false },
	{ "Mercedes-Benz", "Sprinter", "W1V", "907HB", false }, { "BMW", "320d", "WBA", "5R1CA", false },
	{ "Tesla", "Model 3", "5YJ", "3E1EA", false }, { "Volvo", "XC90", "YV4", "A22PK", false },
	{ "Honda", "Civic", "2HG", "FC2F5", false }, { "Hyundai", "Ioniq 5", "KM8", "KN4AE", false },
	{ "Nissan", "Leaf", "1N4", "AZ1CP", false }, { "Scania", "R 450", "YS2", "R4XB2", false },
	{ "BYD", "Han EV", "LGX", "CE4CB", true }, { "Geely", "Xingyue L", "L6T", "772EZ", true },
	{ "FAW-Volkswagen", "Sagitar", "LFV", "2A2BU", true }, { "Buick", "GL8", "LSG", "UA8ML", true },
	{ "NIO", "ES6", "LJ1", "EFAUB", true },
};

/* ISO 3779 check digit (position 9) of a 17-character VIN, as plugins/vin checks it. */
static char vin_check_digit(const char *vin)
{
	static const char letters[] = "ABCDEFGHJKLMNPRSTUVWXYZ";
	static const int letter_values[] = { 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9 };
	static const int weights[17] = { 8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2 };
	int sum = 0;
	for (int i = 0; i < 17; i++) {
		const char *letter = strchr(letters, vin[i]);
		int value = vin[i] >= '0' && vin[i] <= '9' ? vin[i] - '0' : letter ? letter_values[letter - letters] : 0;
		sum += value * weights[i];
	}
	return sum % 11 == 10 ? 'X' : (char)('0' + sum % 11);
}

/*
 * A company car or fleet vehicle of account: a real make's manufacturer
 * code, model year 2016-2025, a serial unique in the run and a valid check
 * digit (the vin plugin refuses any other and fills model_year from the
 * VIN). A VIN an earlier run already created is skipped.
 */
static int create_vehicle(struct demo *demo, const struct account_info *account)
{
	struct rng *rng = &demo->extra_rng;
	bool china = account->company.zh_name[0] != '\0';
	const struct vehicle_model *model;
	do
		model = &PICK(rng, vehicle_models);
	while (model->china != china && rng_chance(rng, 0.9));
	static const char year_codes[] = "ABCDEFGHJKLMNPRSTVWXY";   /* 2010 .. 2030 */
	static const char plants[] = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789";
	int year = rng_int(rng, 2016, 2025);
	char vin[18];
	snprintf(vin, sizeof(vin), "%s%s0%c%c%06d", model->wmi, model->vds, year_codes[year - 2010],
	         plants[rng_int(rng, 0, (int)sizeof(plants) - 2)],
	         (demo->vehicle_count * 19 + rng_int(rng, 0, 18)) % 1000000);
	vin[8] = vin_check_digit(vin);
	demo->vehicle_count++;
	int64_t existing;
	int code = find_existing(demo, "vehicle", "vin", vin, &existing);
	if (code != CRM_OK || existing)
		return code;
	json_t *values = json_object();
	set_text(values, "vin", vin);
	set_if_field(demo->vehicles, values, "make", model->make);
	set_if_field(demo->vehicles, values, "model", model->model);
	if (meta_find_field(demo->vehicles, "account"))
		set_int(values, "account", account->id);
	set_owner(demo, values, account->owner);
	return demo_create(demo, DK_VEHICLE, values, NULL);
}

static double seconds_since(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

int demo_generate(struct crm_ctx *ctx, int records, uint64_t seed, FILE *log)
{
	if (records < 0)
		return crm_error(ctx, CRM_EINVAL, "demo: the number of records must be >= 0");
	struct demo demo = {
		.ctx = ctx,
		.rng = { seed },
		.log = log,
		.base_day = days_from_civil(2026, 1, 1),
		.set_owner = true,
		.account_ids = xmalloc(sizeof(int64_t) * (size_t)(records > 0 ? records : 1)),
		.extra_rng = { seed ^ 0xCA5E5A11D0C0FFEEULL },
		.cases = meta_find_object(ctx->kernel->meta, "case"),
		.vehicles = meta_find_object(ctx->kernel->meta, "vehicle"),
	};
	if (demo.cases && !meta_find_field(demo.cases, "subject"))
		demo.cases = NULL;
	if (demo.vehicles && !meta_find_field(demo.vehicles, "vin"))
		demo.vehicles = NULL;
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	int leads_done = 0, leads_total = records / 2;
	/* about one case per 5 accounts (at least 20) and one vehicle per 20 (at least 5), spread evenly */
	int cases_total = demo.cases && records > 0 ? (records / 5 > 20 ? records / 5 : 20) : 0;
	int vehicles_total = demo.vehicles && records > 0 ? (records / 20 > 5 ? (records / 20 < 5000 ? records / 20 : 5000) : 5) : 0;
	int vehicles_done = 0;
	int progress_every = records >= 10 ? records / 10 : 1;
	struct account_info account;

	int code = object_begin(ctx);
	if (code != CRM_OK) {
		free(demo.account_ids);
		return code;
	}
	if ((code = create_people(&demo)) != CRM_OK)
		goto fail;
	for (int i = 0; i < records; i++) {
		if ((code = create_account(&demo, &account, i)) != CRM_OK ||
		    (code = create_contacts(&demo, &account)) != CRM_OK ||
		    (code = create_opportunities(&demo, &account)) != CRM_OK ||
		    (code = create_activities(&demo, &account)) != CRM_OK)
			goto fail;
		while (demo.case_count < cases_total && (int64_t)demo.case_count * records < (int64_t)(i + 1) * cases_total)
			if ((code = create_case(&demo, &account)) != CRM_OK)
				goto fail;
		/* vehicles fall due evenly and go to the next automotive or logistics fleet (or, now and then, any account) */
		while (vehicles_done < vehicles_total && (int64_t)vehicles_done * records < (int64_t)(i + 1) * vehicles_total &&
		       (account.company.industry == IND_AUTOMOTIVE || account.company.industry == IND_LOGISTICS ||
		        rng_chance(&demo.extra_rng, 0.2) || i == records - 1)) {
			if ((code = create_vehicle(&demo, &account)) != CRM_OK)
				goto fail;
			vehicles_done++;
		}
		/* leads interleaved, so that progress is even */
		while (leads_done < leads_total && (int64_t)leads_done * records < (int64_t)(i + 1) * leads_total) {
			if ((code = create_lead(&demo, leads_done)) != CRM_OK)
				goto fail;
			leads_done++;
		}
		if (log && (i + 1) % progress_every == 0 && i + 1 < records)
			fprintf(log, "demo: %d/%d accounts (%.1f s)\n", i + 1, records, seconds_since(&start));
	}
	if ((code = create_consumers(&demo)) != CRM_OK)
		goto fail;
	if ((code = object_commit(ctx)) != CRM_OK)
		goto fail;
	/* the packages' own demo data (their manual `demo` jobs), over the base records just made */
	crm_error_reset(ctx);
	if ((code = plugin_demo_run(ctx->kernel, ctx, log)) != CRM_OK) {
		free(demo.account_ids);
		if (log)
			fprintf(log, "demo: a plugin's demo stopped: %s\n", ctx->message);
		return code;
	}
	if (log) {
		double seconds = seconds_since(&start);
		int64_t total = 0;
		for (int k = 0; k < DK_COUNT; k++)
			total += demo.created[k];
		fprintf(log, "demo: created %" PRId64 " records in %.2f s (%.0f records/s): "
		        "%" PRId64 " teams, %" PRId64 " users, %" PRId64 " accounts, %" PRId64 " contacts, "
		        "%" PRId64 " opportunities, %" PRId64 " activities, %" PRId64 " leads, %" PRId64 " cases, "
		        "%" PRId64 " vehicles (seed %" PRIu64 ")\n",
		        total, seconds, seconds > 0 ? (double)total / seconds : 0.0,
		        demo.created[DK_TEAM], demo.created[DK_USER], demo.created[DK_ACCOUNT],
		        demo.created[DK_CONTACT], demo.created[DK_OPPORTUNITY], demo.created[DK_ACTIVITY],
		        demo.created[DK_LEAD], demo.created[DK_CASE], demo.created[DK_VEHICLE], seed);
		print_logins(log, ctx->kernel->meta);
	}
	free(demo.account_ids);
	return CRM_OK;

fail:
	object_rollback(ctx);
	free(demo.account_ids);
	if (log)
		fprintf(log, "demo: stopped: %s\n", ctx->message);
	return code;
}
