#ifndef KILN_CGIF_SHIM_H
#define KILN_CGIF_SHIM_H
// giflib, seen by Swift through one wrapper (installed by scripts/install-deps as libgif-dev).
#include <gif_lib.h>
#include <stdlib.h>
#include <string.h>

/// Writes an endlessly looping animated GIF of `frame_count` RGB frames (`width * height * 3`
/// bytes each, back to back), each quantized to its own 256-colour map by giflib and shown for
/// `delay_centiseconds`. Returns 0, or a giflib error code (see GifErrorString).
static inline int kiln_gif_write_rgb_animation(const char *path, const unsigned char *rgb, int width, int height,
                                               int frame_count, int delay_centiseconds) {
  int error = 0;
  GifFileType *gif = EGifOpenFileName(path, 0, &error);
  if (!gif) return error ? error : -1;
  size_t plane = (size_t)width * (size_t)height;
  GifByteType *red = malloc(plane), *green = malloc(plane), *blue = malloc(plane), *indices = malloc(plane);
  ColorMapObject *map = NULL;
  int status = 0;
  if (!red || !green || !blue || !indices) { status = -1; goto done; }
  EGifSetGifVersion(gif, 1);
  if (EGifPutScreenDesc(gif, width, height, 8, 0, NULL) == GIF_ERROR) { status = gif->Error; goto done; }
  {
    // NETSCAPE2.0 application extension: loop forever.
    unsigned char loop[3] = {1, 0, 0};
    if (EGifPutExtensionLeader(gif, APPLICATION_EXT_FUNC_CODE) == GIF_ERROR ||
        EGifPutExtensionBlock(gif, 11, "NETSCAPE2.0") == GIF_ERROR ||
        EGifPutExtensionBlock(gif, 3, loop) == GIF_ERROR ||
        EGifPutExtensionTrailer(gif) == GIF_ERROR) { status = gif->Error; goto done; }
  }
  for (int f = 0; f < frame_count; f++) {
    const unsigned char *frame = rgb + (size_t)f * plane * 3;
    for (size_t i = 0; i < plane; i++) {
      red[i] = frame[3 * i];
      green[i] = frame[3 * i + 1];
      blue[i] = frame[3 * i + 2];
    }
    int colours = 256;
    map = GifMakeMapObject(colours, NULL);
    if (!map) { status = -1; goto done; }
    if (GifQuantizeBuffer((unsigned)width, (unsigned)height, &colours, red, green, blue, indices, map->Colors) == GIF_ERROR) {
      status = -1; goto done;
    }
    GraphicsControlBlock control = {DISPOSE_DO_NOT, false, delay_centiseconds, NO_TRANSPARENT_COLOR};
    GifByteType extension[4];
    size_t length = EGifGCBToExtension(&control, extension);
    if (EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, (int)length, extension) == GIF_ERROR ||
        EGifPutImageDesc(gif, 0, 0, width, height, false, map) == GIF_ERROR) { status = gif->Error; goto done; }
    for (int y = 0; y < height; y++) {
      if (EGifPutLine(gif, indices + (size_t)y * (size_t)width, width) == GIF_ERROR) { status = gif->Error; goto done; }
    }
    GifFreeMapObject(map);
    map = NULL;
  }
done:
  if (map) GifFreeMapObject(map);
  free(red); free(green); free(blue); free(indices);
  int close_error = 0;
  if (EGifCloseFile(gif, &close_error) == GIF_ERROR && status == 0) status = close_error ? close_error : -1;
  return status;
}

static inline const char *kiln_gif_error_string(int code) {
  const char *text = code > 0 ? GifErrorString(code) : NULL;
  return text ? text : "giflib failed (out of memory or quantization error)";
}
#endif
