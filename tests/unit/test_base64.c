/* SPDX-License-Identifier: Apache-2.0 */
#include "unit.h"

#include "lib/base64.h"

/* RFC 4648 section 10. */
static const struct {
	const char *plain, *std, *url;
} vectors[] = {
	{ "", "", "" },
	{ "f", "Zg==", "Zg" },
	{ "fo", "Zm8=", "Zm8" },
	{ "foo", "Zm9v", "Zm9v" },
	{ "foob", "Zm9vYg==", "Zm9vYg" },
	{ "fooba", "Zm9vYmE=", "Zm9vYmE" },
	{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
	{ "\xfb\xff", "+/8=", "-_8" },
	{ "\xfb\xef\xbe", "++++", "----" },
	{ "\xff\xff\xff", "////", "____" },
};

static void test_vectors(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		size_t n = strlen(vectors[i].plain), len = 999;
		void *out = NULL;

		_cleanup_free_ char *e = base64_encode(vectors[i].plain, n);
		assert_string_equal(e, vectors[i].std);
		_cleanup_free_ char *u = base64url_encode(vectors[i].plain, n);
		assert_string_equal(u, vectors[i].url);

		assert_true(base64_valid(vectors[i].std, strlen(vectors[i].std)));
		assert_int_equal(base64_decode(vectors[i].std, strlen(vectors[i].std), &out, &len),
				 0);
		assert_int_equal(len, n);
		assert_memory_equal(out, vectors[i].plain, n);
		assert_int_equal(((char *)out)[n], 0); /* NUL-terminated */
		free(out);

		assert_int_equal(
		    base64url_decode(vectors[i].url, strlen(vectors[i].url), &out, &len), 0);
		assert_int_equal(len, n);
		assert_memory_equal(out, vectors[i].plain, n);
		assert_int_equal(((char *)out)[n], 0);
		free(out);
	}
}

static void test_binary_round_trip(void **state)
{
	unsigned char data[300];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 37 + 11);
	data[5] = 0;

	for (size_t n = 0; n <= sizeof(data); n += (n < 20 ? 1 : 41)) {
		void *out;
		size_t len;
		_cleanup_free_ char *e = base64_encode(data, n);
		assert_int_equal(strlen(e), (n + 2) / 3 * 4);
		assert_int_equal(base64_decode(e, strlen(e), &out, &len), 0);
		assert_int_equal(len, n);
		assert_memory_equal(out, data, n);
		free(out);

		_cleanup_free_ char *u = base64url_encode(data, n);
		assert_null(strchr(u, '='));
		assert_null(strchr(u, '+'));
		assert_null(strchr(u, '/'));
		assert_int_equal(base64url_decode(u, strlen(u), &out, &len), 0);
		assert_int_equal(len, n);
		assert_memory_equal(out, data, n);
		free(out);
	}
}

static void test_slen_is_respected(void **state)
{
	/* decoding stops at slen: the input needs no terminator */
	const char buf[] = "Zm9vYmFyXXXX";
	void *out;
	size_t len;
	assert_int_equal(base64_decode(buf, 8, &out, &len), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(out, "foobar", 6);
	free(out);
	assert_int_equal(base64url_decode(buf, 3, &out, &len), 0);
	assert_int_equal(len, 2);
	free(out);
	/* ret_len is optional */
	assert_int_equal(base64_decode("Zm8=", 4, &out, NULL), 0);
	assert_string_equal(out, "fo");
	free(out);
}

static void test_invalid(void **state)
{
	static const char *const bad_std[] = {
		"Zg",	    "Zg=",	    "Zm8",	 "Z",	  "Z===",     "====",	"=Zm9",
		"Zg==Zg==", "Z=g=",	    "Zm9v====",	 "Zm9v=", "AA=A",     "Zm9v\n", " Zm9v",
		"Zm9v ",    "Zm9v\r\nYmFy", "Zm9v YmFy", "Zm-_",  "Zm9v\x80", "Zm9\0",
	};
	static const char *const bad_url[] = {
		"Zg==", "Zm8=", "Z", "Zm9vY", "Zm+/", "Zm9v\n", " Zm9v", "Zm=v", "Zm9v.",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad_std); i++) {
		void *out = (void *)0x1;
		size_t len = 5, slen = strlen(bad_std[i]);
		if (i == ARRAY_SIZE(bad_std) - 1)
			slen = 4; /* embedded NUL */
		if (base64_valid(bad_std[i], slen))
			fail_msg("std \"%s\" accepted", bad_std[i]);
		assert_int_equal(base64_decode(bad_std[i], slen, &out, &len), -EINVAL);
		assert_ptr_equal(out, (void *)0x1);
		assert_int_equal(len, 5);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad_url); i++) {
		void *out = (void *)0x1;
		if (base64url_decode(bad_url[i], strlen(bad_url[i]), &out, NULL) != -EINVAL)
			fail_msg("url \"%s\" accepted", bad_url[i]);
		assert_ptr_equal(out, (void *)0x1);
	}

	/* non-zero unused bits are tolerated, as by Go's default decoder */
	void *out;
	size_t len;
	assert_true(base64_valid("Zh==", 4));
	assert_int_equal(base64_decode("Zh==", 4, &out, &len), 0);
	assert_int_equal(len, 1);
	assert_int_equal(((char *)out)[0], 'f');
	free(out);
	assert_true(base64_valid("", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_binary_round_trip),
		cmocka_unit_test(test_slen_is_respected),
		cmocka_unit_test(test_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
