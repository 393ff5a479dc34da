/*
 * image.h: reading and writing PNG and JPEG pictures.
 *
 * Reading gives what upstream's PIL `Image.open(f).convert('RGB')` gives
 * (numerics.md §6.3 item 2): 8-bit RGB, alpha *dropped* (not composited),
 * grey replicated to three channels, palettes expanded. The readers:
 *
 *   PNG   (libpng) 1/2/4/8/16-bit grey, grey+alpha, palette (with or without
 *         tRNS), RGB, RGBA, interlaced or not. 16-bit samples keep their high
 *         byte (PIL's "RGB;16B" raw mode does the same for colour; PIL clips a
 *         16-bit *grey* PNG to 255 instead, which od deliberately does not copy).
 *   JPEG  (libjpeg-turbo) baseline and progressive, grey or YCbCr; CMYK/YCCK
 *         are refused with a clear message.
 *
 * The EXIF orientation (JPEG APP1 "Exif", PNG eXIf) is honoured, as
 * PIL.ImageOps.exif_transpose would, unless opts->ignore_orientation is set.
 *
 * Memory bombs: the header's width and height are checked against
 * opts->max_side and opts->max_pixels before anything is allocated, and
 * libjpeg's own memory is capped. Corrupt or truncated data is an OD_EFORMAT
 * error naming the file ("'a.png': truncated PNG data"); nothing here crashes
 * or prints.
 *
 * Writing: PNG (grey or RGB, 8-bit; 16-bit grey) with the frame's metadata as text chunks
 * (tEXt when the value is ASCII, iTXt UTF-8 otherwise), and JPEG (quality
 * 1..100; 4:4:4 chroma from quality 90 up, 4:2:0 below) with the metadata as
 * "key=value" lines in a COM marker.
 */
#ifndef OD_IMAGE_H
#define OD_IMAGE_H

#include "formats/frame.h"
#include "base/io.h"

#include <stddef.h>
#include <stdint.h>

/* Defaults for od_image_opts (0 fields take these). */
#define OD_IMAGE_MAX_SIDE 16384
#define OD_IMAGE_MAX_PIXELS ((int64_t)16384 * 16384)
/* Files larger than this are refused before reading (od_image_read_file). */
#define OD_IMAGE_MAX_FILE ((size_t)1 << 30)

/* An 8-bit picture, rows packed top to bottom:
 * data[(y·width + x)·channels + c], channels 3 (RGB) or 1 (grey). */
struct od_image {
	int width, height, channels;
	uint8_t *data;
};

struct od_image_opts {
	int max_side;           /* 0: OD_IMAGE_MAX_SIDE */
	int64_t max_pixels;     /* 0: OD_IMAGE_MAX_PIXELS */
	int ignore_orientation; /* keep the stored orientation (no EXIF transpose) */
};

enum od_image_format { OD_IMAGE_UNKNOWN = 0, OD_IMAGE_PNG = 1, OD_IMAGE_JPEG = 2 };

/* Allocate a zeroed w×h picture of 1 or 3 channels (checked against the
 * default limits). */
int od_image_alloc(struct od_image *img, int width, int height, int channels);
void od_image_free(struct od_image *img);

/* The format the first bytes announce. */
enum od_image_format od_image_sniff(const void *data, size_t len);
/* The format an output file name implies: ".png" or ".jpg"/".jpeg" (any case). */
enum od_image_format od_image_format_from_name(const char *path);
/* "png", "jpeg" (or "jpg") to a format; OD_IMAGE_UNKNOWN otherwise. */
enum od_image_format od_image_format_parse(const char *name);

/* Decode a PNG or JPEG held in memory into 8-bit RGB. label names the source in
 * messages. opts may be NULL. */
int od_image_read_mem(struct od_image *img, const void *data, size_t len, const char *label,
		      const struct od_image_opts *opts);
/* The same for a file ("-": standard input). */
int od_image_read_file(struct od_image *img, const char *path, const struct od_image_opts *opts);

/* Write img as PNG; meta (may be NULL) become text chunks, plus "Software". */
int od_image_write_png(struct od_out *o, const struct od_image *img, const struct od_meta_entry *meta, int n_meta);
/* Choices for od_image_write_png_opt; all zero is od_image_write_png. */
struct od_png_opts {
	int unfiltered; /* rows without PNG filters: for flat-colour maps (labels, masks, edges) about as
			 * small as with libpng's adaptive filter choice, and encoded much faster */
};
int od_image_write_png_opt(struct od_out *o, const struct od_image *img, const struct od_meta_entry *meta, int n_meta,
			   const struct od_png_opts *opts);
/* Write a 16-bit grey PNG (depth maps): data (height, width) row-major, host
 * byte order; meta as for od_image_write_png. (The readers above keep only the
 * high byte of such a file; image16.h reads all 16 bits.) */
int od_image_write_png16(struct od_out *o, int width, int height, const uint16_t *data,
			 const struct od_meta_entry *meta, int n_meta);
/* Write img as JPEG of the given quality (1..100); meta go to a COM marker. */
int od_image_write_jpeg(struct od_out *o, const struct od_image *img, int quality, const struct od_meta_entry *meta,
			int n_meta);
/* Write in the given format (quality is used for JPEG). */
int od_image_write(struct od_out *o, const struct od_image *img, enum od_image_format fmt, int quality,
		   const struct od_meta_entry *meta, int n_meta);

/* ---- shared by the readers (image.c) */
/* Check a header's size against the limits; OD_EFORMAT naming label if over. */
int od_image_check_size(int64_t width, int64_t height, const char *label, const struct od_image_opts *opts);
/* The orientation (1..8) in a TIFF-structured EXIF block (starting at "II*\0"
 * or "MM\0*"); 1 when absent or unreadable. */
int od_exif_orientation(const uint8_t *tiff, size_t len);
/* Apply an EXIF orientation (2..8) in place (may swap width and height). */
int od_image_orient(struct od_image *img, int orientation);

/* Format-specific readers (image_png.c, image_jpeg.c). */
int od_png_read(struct od_image *img, const uint8_t *data, size_t len, const char *label,
		const struct od_image_opts *opts, int *orientation);
int od_jpeg_read(struct od_image *img, const uint8_t *data, size_t len, const char *label,
		 const struct od_image_opts *opts, int *orientation);

#endif
