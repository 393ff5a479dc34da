/*
 * odpattern: small synthetic pictures for the training tests (a test tool).
 *
 *   odpattern KIND SIZE OUT.png
 *
 * KIND is one of: red, green, blue, white (flat colours), hstripes, vstripes
 * (black and white bands 8 pixels wide), checker (8-pixel squares), disc (a
 * yellow disc on blue), gradient (black to white, left to right). SIZE is the
 * side in pixels. Exit 0 ok, 2 usage or write error.
 */
#include "od.h"
#include "formats/image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *msg)
{
	fprintf(stderr, "odpattern: %s\n", msg);
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc != 4)
		die("usage: odpattern KIND SIZE OUT.png");
	const char *kind = argv[1];
	int n = atoi(argv[2]);
	if (n < 8 || n > 4096)
		die("SIZE must be 8 to 4096");
	struct od_image img;
	if (od_image_alloc(&img, n, n, 3))
		die(od_errmsg());
	for (int y = 0; y < n; y++)
		for (int x = 0; x < n; x++) {
			uint8_t *p = img.data + ((size_t)y * n + x) * 3, r = 0, g = 0, b = 0;
			int dx = 2 * x - n, dy = 2 * y - n;
			if (!strcmp(kind, "red"))
				r = 220, g = 30, b = 30;
			else if (!strcmp(kind, "green"))
				r = 30, g = 200, b = 40;
			else if (!strcmp(kind, "blue"))
				r = 30, g = 40, b = 210;
			else if (!strcmp(kind, "white"))
				r = g = b = 240;
			else if (!strcmp(kind, "hstripes"))
				r = g = b = (y / 8) % 2 ? 255 : 0;
			else if (!strcmp(kind, "vstripes"))
				r = g = b = (x / 8) % 2 ? 255 : 0;
			else if (!strcmp(kind, "checker"))
				r = g = b = (x / 8 + y / 8) % 2 ? 255 : 0;
			else if (!strcmp(kind, "disc"))
				dx * dx + dy * dy < n * n / 2 ? (r = 250, g = 220, b = 20) : (r = 20, g = 40, b = 160);
			else if (!strcmp(kind, "gradient"))
				r = g = b = (uint8_t)(255 * x / (n - 1));
			else
				die("unknown KIND");
			p[0] = r, p[1] = g, p[2] = b;
		}
	struct od_out o;
	if (od_out_open(&o, argv[3]) || od_image_write_png(&o, &img, NULL, 0) || od_out_commit(&o))
		die(od_errmsg());
	od_image_free(&img);
	return 0;
}
