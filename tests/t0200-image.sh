#!/bin/sh
# Reading pictures: every PNG and JPEG variant through od-encode's reader
# (--pixels: the preprocessed VAE input, no model needed), EXIF orientation,
# refusals (CMYK, corrupt, truncated, huge, not an image), and the upstream
# crop/resize/normalise of the pipeline's condition pictures, bit for bit.
. "$OD_SRCDIR/tests/lib.sh"
cd "$T_TMP"
PIPE=$OD_GOLDEN/cases/pipeline

for k in png-rgb8 png-rgba8 png-rgb16 png-rgba16 png-pal png-pal-trns png-interlaced png-gray8 png-graya8 \
	png-gray16 png-gray-ref png-gray1 png-gray-ref1 png-gray4 png-gray-ref4 png-huge; do
	odimg make $k $k.png
done
for k in jpeg-base jpeg-prog jpeg-gray jpeg-cmyk jpeg-huge; do
	odimg make $k $k.jpg
done
for n in 1 2 3 4 5 6 7 8; do
	odimg make png-exif$n png-exif$n.png
	odimg make jpeg-exif$n jpeg-exif$n.jpg
done
PX="od-encode --pixels -S 48x32"

# the pixels od reads, compared with the 8-bit RGB picture they stand for
t_ok "8-bit RGB PNG" sh -c "$PX png-rgb8.png > ref.odf && test -s ref.odf"
for k in png-rgba8 png-rgb16 png-rgba16 png-pal png-pal-trns png-interlaced; do
	t_ok "$k reads as the RGB picture (alpha dropped, 16 bits -> high byte)" \
		sh -c "$PX $k.png | odcmp --exact - ref.odf"
done
t_ok "grey reference" sh -c "$PX png-gray-ref.png > grey.odf && test -s grey.odf"
for k in png-gray8 png-graya8 png-gray16; do
	t_ok "$k reads as grey replicated to RGB" sh -c "$PX $k.png | odcmp --exact - grey.odf"
done
t_ok "1-bit grey widened like PIL (0 -> 0, 1 -> 255)" sh -c "$PX png-gray1.png | odcmp --exact - \$($PX png-gray-ref1.png > g1.odf; echo g1.odf)"
t_ok "4-bit grey widened (l -> 17 l)" sh -c "$PX png-gray4.png | odcmp --exact - \$($PX png-gray-ref4.png > g4.odf; echo g4.odf)"
t_ok "a 4-bit picture is not the 8-bit one (the comparison can fail)" sh -c "! $PX png-gray4.png | odcmp --exact - grey.odf >/dev/null"

# JPEG: baseline, progressive, grey; quality 100 4:4:4 stays within 2/255 of the picture
t_ok "baseline JPEG" sh -c "$PX jpeg-base.jpg | odcmp --atol 0.016 - ref.odf"
t_ok "progressive JPEG" sh -c "$PX jpeg-prog.jpg | odcmp --atol 0.016 - ref.odf"
t_ok "grey JPEG" sh -c "$PX jpeg-gray.jpg | odcmp --atol 0.016 - grey.odf"
t_ok "JPEG pixels are 8-bit RGB as libjpeg decodes them" odimg cmp --max 2 jpeg-prog.jpg png-rgb8.png

# EXIF orientation: each file is stored so that its orientation shows the scene upright
for n in 1 2 3 4 5 6 7 8; do
	t_ok "PNG eXIf orientation $n applied" odimg cmp png-exif$n.png png-rgb8.png
	t_ok "JPEG EXIF orientation $n applied" odimg cmp --max 2 jpeg-exif$n.jpg png-rgb8.png
done
t_ok "orientation 6 is applied before the bucket (upright 48x32: h/w 0.67 -> 608x416)" sh -c \
	"od-encode --pixels jpeg-exif6.jpg | od-frame show | grep -q '(3, 416, 608)'"
t_ok "--ignore-orientation keeps the stored 32x48 (h/w 1.5 -> 416x608)" sh -c \
	"od-encode --pixels --ignore-orientation jpeg-exif6.jpg | od-frame show | grep -q '(3, 608, 416)'"

# refusals: one line naming the file, exit 3, nothing written
t_fails 3 "CMYK JPEG is refused" od-encode --pixels -o out.odf jpeg-cmyk.jpg
t_grep "'jpeg-cmyk.jpg': CMYK JPEG is not supported" "$T_ERR" "CMYK message names the file"
t_ok "no output after a refusal" test ! -e out.odf
t_fails 3 "100000x100000 PNG header refused before allocating" od-encode --pixels -o out.odf png-huge.png
t_grep "'png-huge.png': 100000x100000 image is over the size limit" "$T_ERR" "size limit message"
t_fails 3 "60000x60000 JPEG header refused" od-encode --pixels -o out.odf jpeg-huge.jpg
t_grep "60000x60000 image is over the size limit" "$T_ERR" "JPEG size limit message"
head -c 100 png-rgb8.png > trunc.png
t_fails 3 "truncated PNG" od-encode --pixels -o out.odf trunc.png
t_grep "'trunc.png': truncated PNG data" "$T_ERR" "truncated PNG message"
head -c 700 jpeg-base.jpg > trunc.jpg
t_fails 3 "truncated JPEG" od-encode --pixels -o out.odf trunc.jpg
t_grep "'trunc.jpg': truncated JPEG data" "$T_ERR" "truncated JPEG message"
head -c 400 jpeg-prog.jpg > truncp.jpg
t_fails 3 "truncated progressive JPEG" od-encode --pixels truncp.jpg
cp png-rgb8.png crc.png
printf 'XXXX' | dd of=crc.png bs=1 seek=20 conv=notrunc 2>/dev/null
t_fails 3 "PNG with a bad IHDR" od-encode --pixels crc.png
t_grep "'crc.png': corrupt PNG" "$T_ERR" "corrupt PNG message"
cp png-rgb8.png z.png
printf 'xxxx' | dd of=z.png bs=1 seek=60 conv=notrunc 2>/dev/null
t_fails 3 "PNG with corrupt compressed data" od-encode --pixels z.png
cp jpeg-base.jpg hdr.jpg
printf '\377\300\000\002' | dd of=hdr.jpg bs=1 seek=20 conv=notrunc 2>/dev/null
t_fails 3 "JPEG with a broken header" od-encode --pixels hdr.jpg
t_grep "'hdr.jpg': corrupt JPEG" "$T_ERR" "corrupt JPEG message"
printf 'GIF89a not supported' > x.gif
t_fails 3 "not a PNG or JPEG" od-encode --pixels x.gif
t_grep "'x.gif': not a PNG or JPEG image" "$T_ERR" "unknown format message"
: > empty.png
t_fails 3 "empty file" od-encode --pixels empty.png
t_fails 5 "missing file" od-encode --pixels no-such.png
t_ok "good pictures before a bad one leave no output" sh -c "! od-encode --pixels -o out.odf png-rgb8.png trunc.png 2>/dev/null && test ! -e out.odf"
t_fails 3 "picture on stdin, truncated" sh -c "od-encode --pixels < trunc.png"
t_ok "picture on stdin" sh -c "od-encode --pixels -S 48x32 < png-rgb8.png | odcmp --exact - ref.odf"

# upstream's preprocessing of the pipeline's condition pictures, bit for bit
t_ok "depth_100x75.png -> 64x64: centre crop + bilinear + Normalize" sh -c \
	"od-encode --pixels -S 64x64 $PIPE/depth_100x75.png | odcmp --exact - $PIPE/depth2image_mask10_nocap.safetensors:cond_images_preprocessed"
t_ok "rgb_64x64.png" sh -c \
	"od-encode --pixels -S 64x64 $PIPE/rgb_64x64.png | odcmp --exact - $PIPE/image2depth_mask01_nocap.safetensors:cond_images_preprocessed"
t_ok "mv_view0_64x64.png" sh -c \
	"od-encode --pixels -S 64x64 $PIPE/mv_view0_64x64.png | odcmp --exact - $PIPE/multiview_mask001010_nocap.safetensors:cond_images_preprocessed"
t_ok "the PNG is the recorded uint8 picture" odimg cmp $PIPE/depth_100x75.png $PIPE/depth2image_mask10_nocap.safetensors:cond_images_uint8[0]
t_ok "without -s: the 0.72 bucket (h/w 0.75 ties 0.72 and 0.78; the first wins)" sh -c \
	"od-encode --pixels $PIPE/depth_100x75.png | od-frame show | grep -q '(3, 416, 576)'"
t_ok "--no-crop resizes the whole picture" sh -c \
	"od-encode --pixels -S 64x64 --no-crop $PIPE/depth_100x75.png > nocrop.odf && ! odcmp --atol 0.01 nocrop.odf $PIPE/depth2image_mask10_nocap.safetensors:cond_images_preprocessed >/dev/null"

# the double normalisation of an all-bright run (numerics.md §6.3 item 4)
odimg make png-bright bright.png
t_ok "bright picture, quirk off" sh -c "$PX --no-double-norm bright.png > once.odf && test -s once.odf"
t_ok "bright picture alone: normalised twice, x -> 2x - 1" sh -c "$PX bright.png > twice.odf && odimg twice once.odf twice.odf"
t_ok "with a dark picture in the same run the batch minimum is < 0: once" sh -c \
	"$PX bright.png png-rgb8.png | od-frame select --index 0 | odcmp --exact - once.odf"
t_ok "metadata: source" sh -c "$PX png-rgb8.png | od-frame show | grep -q 'source=\"png-rgb8.png\"'"
t_done
