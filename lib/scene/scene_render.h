/*
 * scene_render.h: the ray caster of od-scene, and the maps derived from a
 * rendered view (od-scene(5) describes the files).
 *
 * Rays leave the camera through the image plane in od's convention
 * (camera/camera.h): pixel (row r, column c) of a W x H view is the
 * normalised image point ((c + 0.5) / W, (r + 0.5) / H), whose camera-frame
 * direction is ((u - cx) / fx, (v - cy) / fy, 1), the direction od-plucker's
 * rays take for the same pixel. Intersections are analytic: a quadratic for
 * the sphere and the sides of the cylinder and cone, slabs for the cube,
 * planes for the caps, base and ground.
 *
 * Picture: Lambert shading plus a hemispherical ambient term under a white
 * directional light, hard shadows by a shadow ray from every lit point,
 * computed in linear RGB and written as sRGB; the ground is plain or
 * checkered (0.5 m squares) and fades into the horizon colour from 8 m to its
 * rim at 20 m; beyond, the sky is a gradient from its horizon colour to its
 * zenith colour. Anti-aliasing: the four samples of the rotated-grid pattern
 * at (±1/8, ±3/8) and (±3/8, ∓1/8) pixels from the centre, averaged in linear
 * RGB: the same pattern for every pixel.
 *
 * Labels (depth, instance ids) come from the ray through the pixel centre
 * alone, so they are exact and not blended: depth is the camera-z depth of
 * the first surface that ray meets (the ray parameter along c2w · (x, y, 1)),
 * the instance the object it belongs to.
 */
#ifndef OD_SCENE_RENDER_H
#define OD_SCENE_RENDER_H

#include "scene/scene.h"

#include <stdint.h>

struct od_scene_view {
	int width, height;
	uint8_t *rgb;    /* (H, W, 3) the picture, sRGB */
	double *depth;   /* (H, W) camera-z depth of the pixel centre's surface, metres; 0 = sky */
	uint8_t *inst;   /* (H, W) object id at the pixel centre, 0 = ground or sky */
};

int od_scene_view_alloc(struct od_scene_view *v, int width, int height);
void od_scene_view_free(struct od_scene_view *v);

/* Render view v of s (its size is the scene's) into out (allocated). */
int od_scene_render(const struct od_scene *s, int v, struct od_scene_view *out);

/* The depth frame OneDiffusion's depth tasks use (upstream.md §6.3: grey, near
 * = bright, normalised per picture; "disparity-like"): inverse depth 1/z, sky 0,
 * mapped linearly so that the smallest value of the picture is 0 and the
 * largest 255, rounded. A picture of one depth only is all 0. */
void od_scene_depth8(const double *depth, long n, uint8_t *out);
/* depth / OD_SCENE_DEPTH_SCALE rounded, clamped to 1..65535; sky 0. */
void od_scene_depth16(const double *depth, long n, uint16_t *out);
/* Each object's pixels in its region colour (od_colors[semantic]), the rest black. */
void od_scene_semantic(const struct od_scene *s, const uint8_t *inst, long n, uint8_t *rgb);

/* An object's box in a view: the pixels with its id lie in columns x0..x1-1,
 * rows y0..y1-1 (pixel-edge coordinates), and touch all four sides. */
struct od_scene_box {
	int id;
	int x0, y0, x1, y1;
	long pixels;
};
/* The boxes of the objects with at least one pixel, in id order; returns
 * their number. pixels[id] (id 0..n_objects) gets every id's count. */
int od_scene_boxes(const struct od_scene *s, const uint8_t *inst, int width, int height, struct od_scene_box *boxes,
		   long *pixels);
/* The box map of boundingbox2image: each box filled in its object's region
 * colour on black, the largest box first so that smaller ones stay visible
 * on top (equal areas: lower id first). */
void od_scene_box_map(const struct od_scene *s, const struct od_scene_box *b, int n, int width, int height,
		      uint8_t *rgb);

/* The inpainting hole of view v: a rectangle over part of one visible object
 * (drawn from the scene's stream for view v, among those with at least
 * od_scene_mention_pixels() pixels when there are any): 40-80% of its box's width and
 * height but at least a sixteenth of the picture's side, inside the box where
 * it fits, moved to cover the object's middle pixel should it miss the object;
 * with no object in view, 25-50% of the picture's sides at a random place.
 * mask (H, W): 255 in the hole, else 0; rect gets x0, y0, x1, y1 (edges),
 * *object the object's id or 0. */
void od_scene_inpaint_mask(const struct od_scene *s, int v, const uint8_t *inst, const struct od_scene_box *b,
			   int n, uint8_t *mask, int rect[4], int *object);

#endif
