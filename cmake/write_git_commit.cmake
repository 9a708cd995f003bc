# Run at every build (cmake -P, from the poslab_git_commit target): writes OUT, a header
# defining POSLAB_GIT_COMMIT as the short commit of SOURCE_DIR, with "-dirty" when tracked
# files differ from it, so results and checkpoints name the code that built the binary.
# (Reading the commit at configure time recorded whatever HEAD was when cmake last ran.)
# The file is rewritten only when its text changes: a build at the same commit recompiles
# nothing. Outside a git checkout the commit is empty and results omit it.
execute_process(COMMAND git rev-parse --short HEAD WORKING_DIRECTORY "${SOURCE_DIR}"
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET
                RESULT_VARIABLE failed)
if(failed)
  set(commit "")
else()
  execute_process(COMMAND git status --porcelain --untracked-files=no
                  WORKING_DIRECTORY "${SOURCE_DIR}" OUTPUT_VARIABLE changes ERROR_QUIET)
  if(NOT changes STREQUAL "")
    string(APPEND commit "-dirty")
  endif()
endif()
set(text "// Generated at build time by cmake/write_git_commit.cmake; do not edit.\n#define POSLAB_GIT_COMMIT \"${commit}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
