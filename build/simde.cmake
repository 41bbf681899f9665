# QuickJS's WAMR part wants to git-clone simde; point CMake's FetchContent at
# Debian's libsimde-dev headers instead so the build works offline.
set(FETCHCONTENT_SOURCE_DIR_SIMDE "/usr/include" CACHE PATH "" FORCE)
