/*
 * camera.h: cameras for multiview OneDiffusion and the Plücker ray frames the
 * model sees them as (numerics.md §7.1-7.4; od-plucker(1)).
 *
 * A struct od_camera is a pinhole camera: a camera-to-world pose in the OpenCV
 * convention (x right, y down, z forward, x_world = c2w · x_cam) and intrinsics
 * in image-size-normalised units, K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]
 * with the image spanning [0, 1] x [0, 1] (upstream passes sizes = (1, 1),
 * §7.2 step 2). The pipeline's focal 1.3887 is such a unit; its NDC focal is
 * 2·fx. Poses may be in any world frame: rays and everything derived from them
 * are relative to a reference camera (the first camera whose rays are given,
 * as upstream drops None views and re-expresses the rest in camera 0's frame).
 *
 * All of this is float64, as upstream builds its cameras (create_c2w_matrix);
 * upstream then computes the rays in float32, which the closed form of §7.2
 * reproduces to 6.1e-7 (tests/golden/README.md §7).
 *
 *   od_orbit_c2w_gl()     create_c2w_matrix: azimuth/elevation/distance -> OpenGL c2w
 *   od_c2w_gl_to_cv()     upstream's OpenGL -> OpenCV conversion (with its world rotation)
 *   od_camera_set_*()     fill a camera from an orbit, a c2w or a w2c, validating it
 *   od_camera_relative()  a camera's pose in the reference camera's OpenCV frame
 *   od_camera_pytorch3d() the PyTorch3D (R, T) upstream builds, after first_camera_transform
 *   od_camera_rays()      the (S, S, 6) Plücker rays of one view
 *   od_rays_pack()        rays -> the (16, S, S) ray frame, ×1.658 (§7.3)
 */
#ifndef OD_CAMERA_H
#define OD_CAMERA_H

/* "scalerays": ray frames live in model space as 1.658 · rays (numerics.md §7.3). */
#define OD_RAYS_SCALE 1.658
/* Pipeline defaults (§7.1): focal in image-size units, orbit distance. */
#define OD_DEFAULT_FOCAL 1.3887
#define OD_DEFAULT_DISTANCE 1.7
/* The normalisation distance of upstream's training loader (§7.6, c2w_scaling). */
#define OD_TRAIN_SCALE 1.7
/* Largest latent size of a ray frame (2048-pixel images, numerics.md §8.2). */
#define OD_RAYS_MAX_S 256
/* The image size multiview runs at (ASPECT_RATIO_512's square bucket, §7). */
#define OD_RAYS_DEFAULT_SIZE 512
/* Bounds that keep every derived number (rays ×1.658 in float32, moments
 * |c|·|d|) finite: camera positions and orbit distances within 1e6 world units
 * of the origin, focal lengths and principal points within 1e-6..1e6 image
 * units. Anything outside is refused where it enters (numerics never see it). */
#define OD_CAMERA_MAX_COORD 1e6
#define OD_CAMERA_MIN_FOCAL 1e-6
#define OD_CAMERA_MAX_FOCAL 1e6

struct od_camera {
	int view;                            /* view index (frame metadata view=), -1 when unknown */
	int has_pose;                        /* c2w is set; 0: a view whose pose is unknown (to be generated) */
	int has_intrinsics;                  /* fx..cy were given; 0: the caller's default applies */
	int has_orbit;                       /* azimuth, elevation, distance describe where the pose came from */
	double c2w[4][4];                    /* camera-to-world, OpenCV axes, row-major */
	double fx, fy, cx, cy;               /* intrinsics, image-size-normalised */
	double azimuth, elevation, distance; /* degrees, degrees, world units (has_orbit) */
	char image[256];                     /* an image file the camera belongs to ("" if none), informational */
};

/* A camera with no pose and the default intrinsics (fx = fy = focal, cx = cy = 0.5),
 * has_intrinsics 0. */
void od_camera_init(struct od_camera *c, double focal);

/* upstream create_c2w_matrix (numerics.md §7.1), float64: the OpenGL camera-to-world
 * matrix of a camera on an orbit, looking at the origin, world z up. At the poles
 * (|up × forward| < 1e-6) the up vector is (0, 1, 0), as upstream. */
void od_orbit_c2w_gl(double azimuth_deg, double elevation_deg, double distance, double c2w_gl[4][4]);

/* upstream's OpenGL -> OpenCV conversion (numerics.md §7.2 step 1): negate the
 * rotation's columns 1 and 2, permute rows [1, 0, 2, 3], negate row 2. The last two
 * steps rotate the world frame and cancel in relative poses. */
void od_c2w_gl_to_cv(const double gl[4][4], double cv[4][4]);

/* Validate a camera-to-world matrix: finite, the position within
 * OD_CAMERA_MAX_COORD, last row (0, 0, 0, 1), the rotation not singular,
 * orthonormal within 1e-4 and proper (det +1). what names it in the message
 * ("'cams.json': cameras[2].c2w"). OD_EFORMAT on failure. */
int od_c2w_check(const double c2w[4][4], const char *what);

/* Set the pose from an orbit (degrees, degrees, 0 < distance <=
 * OD_CAMERA_MAX_COORD): create_c2w_matrix, then od_c2w_gl_to_cv, and remember
 * the angles. */
int od_camera_set_orbit(struct od_camera *c, double azimuth_deg, double elevation_deg, double distance,
			const char *what);
/* Set the pose from a camera-to-world matrix in the OpenGL (opengl = 1, converted
 * as upstream) or the OpenCV convention; validated with od_c2w_check, then its
 * rotation projected onto the nearest rotation (a no-op for exact rotations). */
int od_camera_set_c2w(struct od_camera *c, const double c2w[4][4], int opengl, const char *what);
/* The inverse of a pose [A | t; 0 0 0 1] whose A is not singular. */
void od_pose_invert(const double m[4][4], double inv[4][4]);
/* Set the pose from a world-to-camera matrix (inverted, then as od_camera_set_c2w). */
int od_camera_set_w2c(struct od_camera *c, const double w2c[4][4], int opengl, const char *what);
/* Set and validate intrinsics (fx, fy within OD_CAMERA_MIN_FOCAL..
 * OD_CAMERA_MAX_FOCAL, |cx|, |cy| within OD_CAMERA_MAX_FOCAL); OD_EFORMAT
 * otherwise. */
int od_camera_set_intrinsics(struct od_camera *c, double fx, double fy, double cx, double cy, const char *what);
/* True when every number of c (pose, intrinsics, orbit) is finite. */
int od_camera_finite(const struct od_camera *c);

/* The pose of c in ref's OpenCV camera frame (ref becomes the identity):
 * R_rel = Rc_refᵀ Rc, t_rel = Rc_refᵀ (p − p_ref) (§7.2 closed form). */
void od_camera_relative(const struct od_camera *ref, const struct od_camera *c, double rel[4][4]);

/* The PyTorch3D camera upstream builds for c (§7.2 steps 3-4, row vectors,
 * X_view = X_world · R + T, +x left, +y up), after first_camera_transform with
 * ref as camera 0; centre is its camera centre in that frame. */
void od_camera_pytorch3d(const struct od_camera *ref, const struct od_camera *c, double R[3][3], double T[3],
			 double centre[3]);

/* PyTorch3D NDC intrinsics: focal (2fx, 2fy), principal point −2(cx − 0.5, cy − 0.5). */
void od_camera_ndc(const struct od_camera *c, double focal[2], double principal[2]);

/* The Plücker rays of view c relative to ref at latent resolution S (1..OD_RAYS_MAX_S),
 * on the half-pixel NDC grid: rays6 (S, S, 6) row-major (row r from the top, column c
 * from the left), each (d̂x, d̂y, d̂z, mx, my, mz) in ref's PyTorch3D frame (§7.2 steps
 * 5-6). Both cameras need a pose. */
int od_camera_rays(const struct od_camera *ref, const struct od_camera *c, int S, double *rays6);

/* The side S of the ray frames of square images of size pixels: the latent
 * resolution, S = size/8 (§7.2 step 5). size must be a multiple of 16
 * (numerics.md §6.3 item 1) from 16 to 8·OD_RAYS_MAX_S. OD_EINVAL: "500 is not a multiple
 * of 16 from 16 to 2048". */
int od_rays_latent_size(int size, int *S);

/* Pack rays6 (S, S, 6) into a ray frame (16, S, S), channels first:
 * 1.658 · [d̂, m, d̂, m, d̂, m_x] (§7.3). */
void od_rays_pack(const double *rays6, int S, float *ray16);

/* Upstream's training-time scene normalisation (normalize_cameras, §7.6), as far as
 * it changes relative poses: find the least-squares meeting point p* of the optical
 * axes of the cameras with a pose, then scale every centre about p* by
 * scale / |p_ref − p*| (ref = the first camera with a pose), so the reference camera
 * sits `scale` from p*. Rotations are unchanged. OD_EINVAL when fewer than two
 * cameras have poses, OD_EFORMAT when their axes are (nearly) parallel. */
int od_cameras_normalize(struct od_camera *cams, int n, double scale);

#endif
