# SPDX-License-Identifier: MIT
# Builds one man page: cmake -DMD2MAN=go-md2man -DVERSION=V -DOUT=page
#   -DIN=a.md,b.md [-DCONFIG_DOC=1] -P md2man.cmake
# The inputs are joined; with CONFIG_DOC the second one is
# docs/configuration.md, whose title goes and whose headings move up one
# level (its sections become the page's sections, its keys subsections).
set(text "")
string(REPLACE "," ";" inputs "${IN}")
foreach(f ${inputs})
	file(READ "${f}" part)
	if(CONFIG_DOC AND NOT text STREQUAL "")
		string(REGEX REPLACE "^# [^\n]*\n" "" part "${part}")
		string(REPLACE "\n## " "\n# " part "\n${part}")
		string(REPLACE "\n### " "\n## " part "${part}")
	endif()
	string(APPEND text "${part}")
endforeach()
string(REPLACE "@CB_VERSION@" "${VERSION}" text "${text}")
file(WRITE "${OUT}.md" "${text}")
execute_process(COMMAND ${MD2MAN} -in "${OUT}.md" -out "${OUT}"
    RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
	message(FATAL_ERROR "${MD2MAN} failed on ${OUT}.md")
endif()
