#ifndef KILN_CPNG_SHIM_H
#define KILN_CPNG_SHIM_H
// libpng, seen by Swift through two wrappers (installed by scripts/install-deps as libpng-dev).
// libpng reports errors by longjmp, which Swift cannot cross: the setjmp lives here, in C, and
// each wrapper returns 0 on success or writes libpng's message into `error`.
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  char *message;
  size_t capacity;
} kiln_png_error_sink;

static void kiln_png_on_error(png_structp png, png_const_charp message) {
  kiln_png_error_sink *sink = (kiln_png_error_sink *)png_get_error_ptr(png);
  if (sink && sink->capacity > 0) {
    strncpy(sink->message, message, sink->capacity - 1);
    sink->message[sink->capacity - 1] = 0;
  }
  png_longjmp(png, 1);
}

static void kiln_png_on_warning(png_structp png, png_const_charp message) {
  (void)png;
  (void)message;
}

/// Writes 8-bit RGB rows (`width * 3` bytes each, top row first) to an open file.
static inline int kiln_png_write_rgb(FILE *file, const unsigned char *rgb, int width, int height,
                                     char *error, size_t error_capacity) {
  kiln_png_error_sink sink = {error, error_capacity};
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, kiln_png_on_error, kiln_png_on_warning);
  if (!png) return -1;
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_write_struct(&png, NULL);
    return -1;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return -1;
  }
  png_init_io(png, file);
  png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * (size_t)width * 3));
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  return 0;
}

/// Reads a PNG as 8-bit RGB (palette, gray, 16-bit and alpha converted). On success `*pixels`
/// is malloc'ed (`width * height * 3` bytes; the caller frees it).
static inline int kiln_png_read_rgb(FILE *file, unsigned char **pixels, int *width, int *height,
                                    char *error, size_t error_capacity) {
  kiln_png_error_sink sink = {error, error_capacity};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &sink, kiln_png_on_error, kiln_png_on_warning);
  if (!png) return -1;
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, NULL, NULL);
    return -1;
  }
  unsigned char *volatile buffer = NULL;
  if (setjmp(png_jmpbuf(png))) {
    free(buffer);
    png_destroy_read_struct(&png, &info, NULL);
    return -1;
  }
  png_init_io(png, file);
  png_read_info(png, info);
  png_set_expand(png);
  png_set_strip_16(png);
  png_set_strip_alpha(png);
  png_set_gray_to_rgb(png);
  png_read_update_info(png, info);
  png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  size_t row_bytes = png_get_rowbytes(png, info);
  if (row_bytes != (size_t)w * 3) {
    if (error_capacity > 0) snprintf(error, error_capacity, "unexpected row size %zu for width %u", row_bytes, (unsigned)w);
    png_destroy_read_struct(&png, &info, NULL);
    return -1;
  }
  buffer = (unsigned char *)malloc(row_bytes * h);
  if (!buffer) {
    png_destroy_read_struct(&png, &info, NULL);
    return -1;
  }
  for (png_uint_32 y = 0; y < h; y++) png_read_row(png, buffer + (size_t)y * row_bytes, NULL);
  png_read_end(png, NULL);
  png_destroy_read_struct(&png, &info, NULL);
  *pixels = buffer;
  *width = (int)w;
  *height = (int)h;
  return 0;
}
#endif
