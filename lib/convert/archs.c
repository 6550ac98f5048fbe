/* The architectures maas_convert supports.  A new one adds its file under
 * lib/convert/ and one line here. */
#include "convert/converter.h"

const maas_cv_arch *const maas_cv_archs[] = {
    &maas_cv_gpt2,
    &maas_cv_bert,
    &maas_cv_cnn,
    &maas_cv_rnn,
    NULL,
};
