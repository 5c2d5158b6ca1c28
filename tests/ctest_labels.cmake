# Run at build time (cmake -P, after spotlight_tests is linked): writes OUT, a ctest script that
# gives every doctest case the label of its suite (unit, e2e, slow), read from the binary, and
# the slow ones a higher COST (run first).
# doctest's own ADD_LABELS asks per case with an unescaped --test-case filter, which misses every
# name holding a comma; listing each suite's cases does not.
# Usage: cmake -DTESTS=path/to/spotlight_tests -DOUT=labels.cmake -P ctest_labels.cmake
set(script "")
foreach(suite unit e2e slow)
  execute_process(COMMAND "${TESTS}" --list-test-cases --test-suite=${suite}
                  OUTPUT_VARIABLE listing RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${TESTS} --list-test-cases failed (${rc})")
  endif()
  string(REPLACE "\n" ";" lines "${listing}")
  foreach(name IN LISTS lines)
    if(name STREQUAL "" OR name MATCHES "^\\[doctest\\] " OR name MATCHES "^=+$")
      continue()
    endif()
    # The slow cases start first where ctest has no timings yet (a fresh build: CI), so that
    # none of them is left running alone at the end.
    set(cost "")
    if(suite STREQUAL "slow")
      set(cost " COST 50")
    endif()
    string(APPEND script
           "set_tests_properties([==[${name}]==] PROPERTIES LABELS ${suite}${cost})\n")
  endforeach()
endforeach()
file(WRITE "${OUT}" "${script}")
