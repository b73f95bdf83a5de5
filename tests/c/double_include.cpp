// The header compiles as C++ and has a working include guard (issue 8).
#include "sigsync.h"
#include "sigsync.h"

int main() {
  const char *v = sigsync_version();
  return v == nullptr ? 1 : 0;
}
