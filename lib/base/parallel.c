/* parallel.c: the CPU thread pool (see parallel.h). */
#include "base/parallel.h"

#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 256

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER, done = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t call_lock = PTHREAD_MUTEX_INITIALIZER;
static int n_threads;          /* configured (0: not yet) */
static int n_workers;          /* started worker threads */
static uint64_t generation;    /* bumped for each job */
static int pending;            /* workers still running the job */
static struct {
	void (*fn)(void *, int64_t, int64_t);
	void *arg;
	int64_t n;
	int parts;   /* [0, n) cut into this many contiguous parts */
	int next;    /* the next part to take */
	int takers;  /* threads taking parts: the caller and workers 1 .. takers-1 */
	double busy; /* seconds the threads spent in fn (under lock when added) */
} job;
static double usage_wall, usage_busy;
static _Thread_local int in_pool;

int od_cpu_count(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0) {
		int n = CPU_COUNT(&set);
		if (n > 0)
			return n;
	}
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Take parts until none is left; returns the seconds spent in fn. A part's
 * bounds depend on n and parts alone, never on the thread that takes it. */
static double run_parts(void)
{
	const double t0 = now();
	for (int p; (p = __atomic_fetch_add(&job.next, 1, __ATOMIC_RELAXED)) < job.parts;) {
		int64_t b = job.n * p / job.parts, e = job.n * (p + 1) / job.parts;
		if (b < e)
			job.fn(job.arg, b, e);
	}
	return now() - t0;
}

static void *worker(void *p)
{
	int id = (int)(intptr_t)p; /* 1 .. n_workers */
	uint64_t seen = 0;
	in_pool = 1;
	pthread_mutex_lock(&lock);
	for (;;) {
		while (generation == seen)
			pthread_cond_wait(&wake, &lock);
		seen = generation;
		const int takes = id < job.takers;
		pthread_mutex_unlock(&lock);
		const double busy = takes ? run_parts() : 0;
		pthread_mutex_lock(&lock);
		if (takes) {
			job.busy += busy;
			if (--pending == 0)
				pthread_cond_signal(&done);
		}
	}
	return NULL;
}

void od_set_threads(int n)
{
	if (n <= 0)
		n = od_cpu_count();
	if (n > MAX_THREADS)
		n = MAX_THREADS;
	pthread_mutex_lock(&call_lock);
	pthread_mutex_lock(&lock);
	while (n_workers < n - 1) {
		pthread_t t;
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &a, worker, (void *)(intptr_t)(n_workers + 1)) != 0) {
			pthread_attr_destroy(&a);
			break;
		}
		pthread_attr_destroy(&a);
		n_workers++;
	}
	n_threads = n_workers + 1 < n ? n_workers + 1 : n;
	pthread_mutex_unlock(&lock);
	pthread_mutex_unlock(&call_lock);
	/* OpenBLAS's own threads would make results depend on the thread count:
	 * every sgemm runs single-threaded and the kernels tile the work (see
	 * cpu_linear.c). */
	openblas_set_num_threads(1);
}

int od_threads(void)
{
	if (!n_threads)
		od_set_threads(0);
	return n_threads;
}

void od_parallel_for(int64_t n, void (*fn)(void *arg, int64_t begin, int64_t end), void *arg)
{
	if (n <= 0)
		return;
	int t = od_threads();
	if (in_pool || t <= 1 || n == 1) {
		fn(arg, 0, n);
		return;
	}
	pthread_mutex_lock(&call_lock);
	pthread_mutex_lock(&lock);
	job.fn = fn;
	job.arg = arg;
	job.n = n;
	job.takers = (int)(n < t ? n : t);
	job.parts = (int)(n < (int64_t)t * OD_PARALLEL_PARTS ? n : (int64_t)t * OD_PARALLEL_PARTS);
	job.next = 0;
	job.busy = 0;
	pending = job.takers - 1;
	const double t0 = now(); /* before any worker can start: busy <= wall */
	generation++;
	pthread_cond_broadcast(&wake);
	pthread_mutex_unlock(&lock);
	in_pool = 1;
	const double busy = run_parts();
	in_pool = 0;
	pthread_mutex_lock(&lock);
	while (pending > 0)
		pthread_cond_wait(&done, &lock);
	usage_wall += (now() - t0) * job.takers;
	usage_busy += busy + job.busy;
	pthread_mutex_unlock(&lock);
	pthread_mutex_unlock(&call_lock);
}

void od_parallel_usage(double *wall, double *busy)
{
	pthread_mutex_lock(&lock);
	*wall = usage_wall;
	*busy = usage_busy;
	pthread_mutex_unlock(&lock);
}
