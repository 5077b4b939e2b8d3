/* stopwords.c - see stopwords.h. */
#include "stopwords.h"

#include "strmap.h"

#include <stdlib.h>
#include <string.h>

/* One list per language, words separated by single spaces. */
static const char s_english[] =
    "a about above after again against all almost along already also although always am "
    "among an and another any anyone anything are aren around as at away be because been "
    "before being below between both but by can cannot could couldn did didn do does doesn "
    "doing don done down during each either else enough especially etc even ever every "
    "few for from further get gets getting give given gives go goes going got had hadn has "
    "hasn have haven having he hence her here hers herself him himself his how however i "
    "ie eg if in instead into is isn it its itself just least less let lets like likely ll "
    "made make makes many may maybe me might more moreover most mostly much must my myself "
    "need needs neither never new next no non none nor not now of off often on once one ones "
    "only onto or other others otherwise our ours ourselves out over own per perhaps please "
    "put quite rather re really said same say says see seen shall she should shouldn shown "
    "since so some something sometimes still such than that the their theirs them themselves "
    "then there thereby therefore these they thing things this those though three through "
    "thus to together too two under unless until up upon us use used uses using usually ve "
    "very via want was wasn way we well were weren what whatever when whenever where whereas "
    "whether which while who whom whose why will with within without won would wouldn yes yet "
    "you your yours yourself yourselves first second third also example examples following "
    "follows chapter section page figure table note notes part";

static const char s_french[] =
    "a afin ai ainsi alors après as au aucun aucune aussi autre autres aux avait avant avec "
    "avez avoir avons bien c car ce ceci cela celle celles celui cependant certains ces cet "
    "cette ceux chaque chez comme comment d dans de depuis des deux doit doivent donc dont du "
    "déjà elle elles en encore entre es est et etc eux fait faire fois fut été être faut hors "
    "ici il ils j je jusqu jusque l la laquelle le lequel les lesquels leur leurs lors lorsque "
    "lui m ma mais me mes moi moins mon même mêmes n ne ni non nos notre nous on ont ou où "
    "par parce pas pendant permet permettent peu peut peuvent plus plusieurs pour pourquoi "
    "pourra puis qu quand que quel quelle quelles quels qui quoi s sa sans se selon sera "
    "seront serait ses si sien soi soit sommes son sont sous suis sur t ta te tel telle tels "
    "tes toi ton tous tout toute toutes très tu un une vers via voici voilà vos votre vous y "
    "exemple chapitre section page figure tableau partie";

static const char s_german[] =
    "ab aber alle allem allen aller alles als also am an andere anderen anders auch auf aus "
    "bei beim bereits bin bis bist bzw da dabei dadurch dafür damit dann daran darauf daraus "
    "darf darum das dass daß dem den denen denn der deren des dessen dich die dies diese "
    "diesem diesen dieser dieses dir doch dort du durch eben ein eine einem einen einer "
    "eines einfach einige er es etwa euch euer eure für gegen geht gibt hab habe haben hat "
    "hatte hätte hier ich ihm ihn ihnen ihr ihre ihrem ihren ihrer im immer in ins ist ja je "
    "jede jedem jeden jeder jedes jedoch jetzt kann kein keine keinen können könnte man mehr "
    "mein meine mich mir mit muss müssen nach nicht nichts noch nun nur ob oder ohne sehr "
    "sei sein seine seinem seinen seiner seit sich sie sind so solche soll sollen sollte "
    "sondern sowie über um und uns unser unsere unter usw viel viele vom von vor wann war "
    "waren warum was weil welche welchem welchen welcher welches wenn wer werden wie wieder "
    "will wir wird wo wurde wurden zu zum zur zwar zwischen beispiel kapitel abschnitt seite "
    "abbildung tabelle teil";

static const char s_spanish[] =
    "a al algo algunas algunos ante antes aquí así aunque cada casi como con contra cual "
    "cuales cualquier cuando de del desde donde dos durante e el ella ellas ello ellos en "
    "entonces entre era eran es esa esas ese eso esos esta estaba estado estas este esto "
    "estos está están fue fueron ha hace hacer han hasta hay la las le les lo los luego más "
    "me menos mi mientras mis mismo mucho muchos muy nada ni no nos nosotros o otra otras "
    "otro otros para pero poco por porque pues puede pueden que quien quienes qué se sea "
    "según ser si sido siempre sin sino sobre son su sus sí también tan tanto te tiene "
    "tienen todo todos tu tus un una uno unos usted ustedes y ya él éste ejemplo capítulo "
    "sección página figura tabla parte";

static const char *const s_lists[STOPWORDS_LANGUAGES] = {s_english, s_french, s_german, s_spanish};
static const char *const s_codes[STOPWORDS_LANGUAGES] = {"en", "fr", "de", "es"};

struct stopwords {
    strmap_t *words;
    unsigned char *langs; /* by word id */
    size_t cap;
};

stopwords_t *
stopwords_new(void)
{
    stopwords_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->words = strmap_new();
    self->cap = 1024;
    self->langs = calloc(self->cap, 1);
    if (self->words == NULL || self->langs == NULL)
        goto fail;
    for (int lang = 0; lang < STOPWORDS_LANGUAGES; lang++) {
        const char *p = s_lists[lang];
        while (*p != '\0') {
            const char *end = strchr(p, ' ');
            size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
            long id = strmap_intern(self->words, p, n);
            if (id < 0 || (size_t)id >= self->cap)
                goto fail;
            self->langs[id] |= (unsigned char)(1u << lang);
            p += n;
            while (*p == ' ')
                p++;
        }
    }
    return self;
fail:
    stopwords_destroy(&self);
    return NULL;
}

void
stopwords_destroy(stopwords_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    strmap_destroy(&(*self_p)->words);
    free((*self_p)->langs);
    free(*self_p);
    *self_p = NULL;
}

unsigned
stopwords_langs(const stopwords_t *self, const char *w, size_t len)
{
    long id = strmap_find(self->words, w, len);
    return id >= 0 ? self->langs[id] : 0;
}

unsigned
stopwords_bit(int i)
{
    return i >= 0 && i < STOPWORDS_LANGUAGES ? 1u << i : 0;
}

const char *
stopwords_code(unsigned lang)
{
    for (int i = 0; i < STOPWORDS_LANGUAGES; i++) {
        if (lang == 1u << i)
            return s_codes[i];
    }
    return "und";
}

unsigned
stopwords_guess(const size_t hits[STOPWORDS_LANGUAGES], size_t words)
{
    int best = 0;
    for (int i = 1; i < STOPWORDS_LANGUAGES; i++) {
        if (hits[i] > hits[best])
            best = i;
    }
    size_t second = 0;
    for (int i = 0; i < STOPWORDS_LANGUAGES; i++) {
        if (i != best && hits[i] > second)
            second = hits[i];
    }
    if (words == 0 || hits[best] * 100 < words * 8 || hits[best] * 2 < second * 3)
        return 0;
    return 1u << best;
}

unsigned
stopwords_mask_for(unsigned lang)
{
    return lang == 0 ? STOPWORDS_ALL : lang | STOPWORDS_EN;
}
