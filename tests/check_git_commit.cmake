# cmake/write_git_commit.cmake, on a throw-away repository: the header names the commit,
# gains "-dirty" when a tracked file changes, is not rewritten when nothing changed (so a
# build at the same commit recompiles nothing), follows a new commit, and is empty
# outside a git checkout. Run by CTest (Build.GitCommitIsReadAtBuildTime):
#   cmake -DSOURCE_DIR=<repo> -DWORK_DIR=<scratch> -P tests/check_git_commit.cmake
cmake_minimum_required(VERSION 3.16)
set(script "${SOURCE_DIR}/cmake/write_git_commit.cmake")
set(repo "${WORK_DIR}/repo")
set(header "${WORK_DIR}/commit.h")
file(REMOVE_RECURSE "${WORK_DIR}")
# WORK_DIR may lie inside poslab's own checkout (the build tree): git must not look above it.
set(ENV{GIT_CEILING_DIRECTORIES} "${WORK_DIR}")
file(MAKE_DIRECTORY "${repo}")

function(git)
  execute_process(COMMAND git -c user.name=poslab -c user.email=poslab@localhost ${ARGN}
                  WORKING_DIRECTORY "${repo}" RESULT_VARIABLE failed OUTPUT_QUIET ERROR_VARIABLE err)
  if(failed)
    message(FATAL_ERROR "git ${ARGN}: ${err}")
  endif()
endfunction()

# Runs the script on `dir` and sets `defined` to the string POSLAB_GIT_COMMIT is defined as.
function(read_commit dir)
  execute_process(COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${dir} -DOUT=${header} -P ${script}
                  RESULT_VARIABLE failed ERROR_VARIABLE err)
  if(failed)
    message(FATAL_ERROR "write_git_commit.cmake failed: ${err}")
  endif()
  file(STRINGS "${header}" line REGEX "^#define POSLAB_GIT_COMMIT ")
  string(REGEX REPLACE "^#define POSLAB_GIT_COMMIT \"(.*)\"$" "\\1" value "${line}")
  set(defined "${value}" PARENT_SCOPE)
endfunction()

function(expect actual wanted what)
  if(NOT actual STREQUAL wanted)
    message(FATAL_ERROR "${what}: got \"${actual}\", expected \"${wanted}\"")
  endif()
endfunction()

function(head_commit)
  execute_process(COMMAND git rev-parse --short HEAD WORKING_DIRECTORY "${repo}"
                  OUTPUT_VARIABLE out OUTPUT_STRIP_TRAILING_WHITESPACE)
  set(head "${out}" PARENT_SCOPE)
endfunction()

git(init -q)
file(WRITE "${repo}/a.txt" "one\n")
git(add a.txt)
git(commit -q -m first)
head_commit()
read_commit("${repo}")
expect("${defined}" "${head}" "clean checkout")

# Same commit again: the file is left alone (its time stamp does not move).
file(TIMESTAMP "${header}" before "%s")
execute_process(COMMAND ${CMAKE_COMMAND} -E sleep 1.1)
read_commit("${repo}")
file(TIMESTAMP "${header}" after "%s")
expect("${after}" "${before}" "header rewritten although the commit did not change")

file(WRITE "${repo}/a.txt" "two\n")
read_commit("${repo}")
expect("${defined}" "${head}-dirty" "tracked file changed")

# An untracked file is not a change to the code that was committed.
git(commit -q -a -m second)
file(WRITE "${repo}/untracked.txt" "x\n")
head_commit()
read_commit("${repo}")
expect("${defined}" "${head}" "after a new commit (with an untracked file)")

file(MAKE_DIRECTORY "${WORK_DIR}/not_git")
read_commit("${WORK_DIR}/not_git")
expect("${defined}" "" "outside a git checkout")
message(STATUS "write_git_commit.cmake: commit, -dirty, unchanged file, new commit, no checkout: ok")
