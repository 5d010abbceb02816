# embed.awk: turns the judge's prompt templates (*.txt) into C string
# constants, so that the plugin carries built-in copies of the files it
# installs. Each file F.txt becomes `static const char judge_template_F[]`;
# backslashes, quotes and question marks (trigraphs) are escaped, and every
# line keeps its newline. Usage: awk -f embed.awk a.txt b.txt > header.h
BEGIN { print "/* Generated from the files of plugins/judge_templates by embed.awk: do not edit. */" }
FNR == 1 {
    if (NR > 1) print ";"
    name = FILENAME
    sub(/^.*\//, "", name)
    sub(/\.txt$/, "", name)
    printf "static const char judge_template_%s[] =\n", name
    printf "    \"\""
}
{
    line = $0
    gsub(/\\/, "\\\\", line)
    gsub(/"/, "\\\"", line)
    gsub(/\?/, "\\?", line)
    printf "\n    \"%s\\n\"", line
}
END { if (NR > 0) print ";" }
